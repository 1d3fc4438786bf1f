"""The local stand-in for AWS: an ECR-like registry and moto's server, kept consistent.

Shipyard's product code never imports this package: it only sees endpoints
(`AWS_ENDPOINT_URL`, `SHIPYARD_REGISTRY`). Real AWS is the same code path without them.

Pieces:
- `registry`: the CNCF distribution registry (Debian `docker-registry`) on loopback, with basic
  auth whose password is the token `GetAuthorizationToken` returns;
- `front`: a thin proxy in front of it that adds what ECR does and the registry does not
  (a push needs the repository to exist; immutable tags refuse to move);
- `ecr_bridge`: moto's ECR made to agree with the registry (true digests, deletes, scans);
- `scanner`: findings for pushed images from the packages they contain;
- `control`: `up`, `down` and `env`, the sandbox running as one background process.
"""
