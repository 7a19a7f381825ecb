"""Training of MV-HiNeRV: data on the device, losses, schedules as data, the loop, checkpoints.

The codec calls one function, :func:`train_model` (``mvhinerv.train.loop``), with a
``MultiViewVideo``, an architecture and an :class:`~mvhinerv.config.EncodeConfig`; it returns a
:class:`TrainResult` whose quantised tensors go straight into the bitstream.
"""

from mvhinerv.train.checkpoint import TrainState
from mvhinerv.train.loop import TrainResult, train_model
from mvhinerv.train.schedule import SCHEDULES, Phase, Schedule, get_schedule, schedule_table

__all__ = ["SCHEDULES", "Phase", "Schedule", "TrainResult", "TrainState", "get_schedule", "schedule_table",
           "train_model"]
