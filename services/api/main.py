"""``uvicorn services.api.main:app`` entry point."""

from services.api.app import create_app
from services.core.config import get_settings
from services.core.logging import configure

configure(get_settings().log_level)
app = create_app()
