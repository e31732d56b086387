"""The stage layer: pure functions over Arrow batches, one small class per stage.

Stages never touch files, never import Prefect and never import the storage layer; they read
only the data contract (:mod:`newsclean.tasks.schema`) and the rule packs
(:mod:`newsclean.tasks.rules`). Each declares its name, version, the columns it reads, writes
and adds and the resources it loads (:mod:`newsclean.tasks.stages.base`); importing this
package imports every module in it, which registers every shipped stage, so a chain can name
it.

Batch stages, in the shipped chain's order: ``normalize``, ``spacing``, ``boilerplate``,
``reflow``, ``drop-empty``, ``derive``, ``typos``, ``sketch``, ``line-hashes``,
``learned-boilerplate``. The run-wide dedup decision (:mod:`.dedup`) and the learner's
counting (:mod:`.learned`) are pure functions of the same layer.
"""

import importlib
import pkgutil

from newsclean.tasks.stages.base import (
    BatchContext,
    NewColumn,
    RunInputs,
    Stage,
    register,
    registered,
    resolve,
)
from newsclean.tasks.stages.edits import EditLog, StageResult

# Every module of this package registers its stages on import: a new stage is a new module
# here (and its name in the chain), nothing else to edit.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "BatchContext",
    "EditLog",
    "NewColumn",
    "RunInputs",
    "Stage",
    "StageResult",
    "register",
    "registered",
    "resolve",
]
