"""The chart's deployment assets (deploy/helm) and the code that generates part of them."""
