"""The emulated device as adbd presents it: its CNXN banner and the services an OPEN can name."""
from __future__ import annotations

from rep_deploy.emulator.adbd import Handler
from rep_deploy.emulator.faults import FaultOptions
from rep_deploy.emulator.sandbox import DEFAULT_PROPS, Sandbox
from rep_deploy.emulator.shell import shell_handler
from rep_deploy.emulator.sync import PushCounter, SyncService

__all__ = ["FEATURES", "EmulatedDevice"]

# What the device offers; a host uses a feature only if it lists it too. Deliberately absent:
# delayed_ack (changes flow control) and sendrecv_v2_* compression.
FEATURES = ("shell_v2", "cmd", "stat_v2", "ls_v2", "fixed_push_mkdir")


class EmulatedDevice:
    """Banner plus service dispatch for one sandbox and one set of fault options."""

    def __init__(self, sandbox: Sandbox, faults: FaultOptions | None = None,
                 props: dict[str, str] | None = None, features: tuple[str, ...] = FEATURES) -> None:
        self.sandbox = sandbox
        self.faults = faults or FaultOptions()
        self.props = {**DEFAULT_PROPS, **(props or {})}
        self.features = features
        self.pushed = PushCounter()

    def banner(self) -> str:
        """``device::ro.product.name=..;ro.product.model=..;ro.product.device=..;features=..``."""
        keys = ("ro.product.name", "ro.product.model", "ro.product.device")
        props = "".join(f"{k}={self.props[k]};" for k in keys)
        return f"device::{props}features={','.join(self.features)}"

    def resolve(self, service: str) -> Handler | None:
        """The handler for an OPEN of ``service``, None for services this device lacks."""
        if service.startswith("sync:"):
            return SyncService(self.sandbox, self.faults, self.pushed)
        return shell_handler(service, self.sandbox, self.faults)
