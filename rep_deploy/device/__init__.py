"""On-device benchmarking over adb: the device layer, the aarch64 bundle, ``rep-deploy bench``."""
