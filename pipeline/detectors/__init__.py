"""ophyd-async detectors that write into zarrscribe's shared stores (needs the
``ophyd-async`` extra: ``pip install 'zarrscribe[ophyd-async]'``).

Several ophyd-async detectors, and zarrscribe's own devices, share one writer
and one Zarr store per writer group; the pipeline's callbacks, catalog and
replay treat them like any other device (ophyd-async#1242).
"""

from ...writers.model import missing_dependency

try:
    from ._data_logic import AcquisitionClosedError, ZarrDataLogic, ZarrDataProvider
    from ._detector import ZarrDetector
    from ._soft_camera import FrameSource, SoftCamera, SpotFrames, demo_detectors
except ModuleNotFoundError as e:
    raise missing_dependency(e, "zarrscribe.pipeline.detectors") from e

__all__ = [
    "AcquisitionClosedError",
    "FrameSource",
    "SoftCamera",
    "SpotFrames",
    "ZarrDataLogic",
    "ZarrDataProvider",
    "ZarrDetector",
    "demo_detectors",
]
