import os

# Two CPU devices for JAX, so sharding code paths are testable without a GPU (style.md Sec. 9).
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
