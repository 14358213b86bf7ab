"""The ChatKit server under test: FastAPI + ``ChatKitServer`` + ``PostgresStore``.

from chatkit_pg.loadtest.server import ServerSettings, create_app
app = create_app(ServerSettings(dsn="postgresql://..."))
"""

from .app import create_app, create_app_from_env
from .settings import ServerSettings

__all__ = ["ServerSettings", "create_app", "create_app_from_env"]
