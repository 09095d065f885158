"""One registry of methods: name -> builder(backbone, fresh task model, experiment) -> MethodModel.

Each builder freezes what its method does not train; ``MethodModel.initialize`` runs any data-dependent
initialisation (LST's pruning) before training. Adding a method = one module + one line here.
"""

from . import adapter, bitfit, full, lora, lst, prompt

BUILDERS = {
    "lst": lst.build,
    "lora": lora.build,
    "adapter": adapter.build,
    "bitfit": bitfit.build,
    "prompt": prompt.build,
    "full": full.build,
}
