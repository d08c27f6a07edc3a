"""Where the app keeps things: platformdirs by default, overridable for tests and portable use.

config/   settings.toml, key bindings
data/     fine-tuned models, ratings, suggestion log, recovery files
cache/    converted bundled model, downloaded hub models
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from cw_desktop import APP_AUTHOR, APP_NAME

ENV_CONFIG = "CW_DESKTOP_CONFIG_DIR"
ENV_DATA = "CW_DESKTOP_DATA_DIR"
ENV_CACHE = "CW_DESKTOP_CACHE_DIR"


@dataclass(frozen=True)
class AppPaths:
    config_dir: Path
    data_dir: Path
    cache_dir: Path

    @classmethod
    def default(
        cls,
        config: str | os.PathLike[str] | None = None,
        data: str | os.PathLike[str] | None = None,
        cache: str | os.PathLike[str] | None = None,
    ) -> "AppPaths":
        """Explicit arguments win, then environment variables, then the platform's folders.

        With `data` given but not `cache`, the cache goes under data/cache so one `--data` folder
        makes a fully portable (and test-isolated) installation.
        """
        config_dir = Path(config or os.environ.get(ENV_CONFIG) or platformdirs.user_config_dir(APP_NAME, APP_AUTHOR))
        data_dir = Path(data or os.environ.get(ENV_DATA) or platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))
        cache_env = cache or os.environ.get(ENV_CACHE)
        if cache_env:
            cache_dir = Path(cache_env)
        elif data or os.environ.get(ENV_DATA):
            cache_dir = data_dir / "cache"
        else:
            cache_dir = Path(platformdirs.user_cache_dir(APP_NAME, APP_AUTHOR))
        return cls(config_dir.expanduser(), data_dir.expanduser(), cache_dir.expanduser())

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.toml"

    @property
    def models_dir(self) -> Path:
        """Fine-tuned models (one save_pretrained folder each, with report.json)."""
        return self.data_dir / "models"

    @property
    def recovery_dir(self) -> Path:
        return self.data_dir / "recovery"

    @property
    def suggestion_log(self) -> Path:
        return self.data_dir / "suggestions.jsonl"

    @property
    def runs_dir(self) -> Path:
        """Training runs in progress: checkpoints, logs; a finished run moves to models_dir."""
        return self.data_dir / "runs"

    @property
    def converted_models_dir(self) -> Path:
        """Converted bundled model and downloaded hub models."""
        return self.cache_dir / "models"

    def ensure(self) -> "AppPaths":
        for folder in (self.config_dir, self.data_dir, self.cache_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self
