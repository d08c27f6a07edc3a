"""cw_desktop: a local creative-writing assistant."""

__version__ = "0.1.0"
APP_NAME = "cw_desktop"
APP_AUTHOR = "cw_desktop"
