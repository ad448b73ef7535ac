"""The shared core every job imports: the typed-config loader (`config`), storage locations and IO
(`storage`), Ray start/connect and log levels (`ray_env`), the console (`console`), the shims around
private Ray and datasketch APIs (`compat`) and the `raypretrain` console script (`cli`). No job logic."""
