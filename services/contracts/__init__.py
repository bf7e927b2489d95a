"""What services agree on with each other: small domain helpers for rules that cross a service
boundary, shared by their callers instead of copied (the kit holds runtime concerns only).

- `contacts`: phone numbers and email addresses as the contract accepts and keeps them (auth, notify);
- `otp`: a verification as its callers show and check it (notify's API, used by auth and membership);
- `revocation`: revoked sessions and access tokens in Redis (auth writes, the gateway reads);
- `addresses`: the key a client address is counted under by per-IP limits (IPv6 by /64: gateway, notify).

A change here is a change for every service that imports it.
"""
