"""Stage 0, the tiny world: a deterministic generated internet with ground truth.

    from dentro.world import generate, config_for
    stats = generate(out_dir, config_for("micro", seed=0))

See docs/world.md for what the world contains and the formats of its truth files.
"""

from dentro.world.config import PRESETS, WorldConfig, config_for
from dentro.world.generate import generate

__all__ = ["PRESETS", "WorldConfig", "config_for", "generate"]
