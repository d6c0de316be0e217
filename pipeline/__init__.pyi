"""Names of ``zarrscribe.pipeline`` (read by lazy_loader at import: each is imported on
first use; and by type checkers)."""

from ._pipeline import (
    STATE_DIR as STATE_DIR,
    Catalog as Catalog,
    Pipeline as Pipeline,
    embedded_catalog as embedded_catalog,
)
from .replay import ReplayReport as ReplayReport, find_logs as find_logs
from .sim import (
    DeviceStatus as DeviceStatus,
    SimCamera as SimCamera,
    SimLight as SimLight,
    SimMotor as SimMotor,
    fly_scan as fly_scan,
)
