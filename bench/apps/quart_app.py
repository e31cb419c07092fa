"""The native-async reference: the baked service's benchmarked endpoints, written for Quart.

Same endpoints, same answers, same I/O: the user store and the HTTP client are the baked
service's own ``Resources`` (one SQLAlchemy async engine on the same SQLite file, one
``aiohttp.ClientSession`` with the same limits), opened once per worker when Quart starts
serving. Authentication is quart-auth, whose signed cookie carries the same server-side login
token the baked service keeps in Flask's session; the user is looked up asynchronously in the
store once per request, as Flask-Login's ``user_loader`` does there.

It sends the same security headers as the baked service (each header costs the server CPU to
validate and write, so fewer headers would be a different answer, not a faster framework).
What it leaves out is what a Quart app would add with its own extensions: CSRF checks and
failed-login throttling. Those cost the baked service some CPU and are counted against it.

    hypercorn --config hypercorn.toml quart_app:app   (cwd: the baked service, for .env)
"""

from __future__ import annotations

from my_service.app import freeze_startup_heap
from my_service.resources import Resources
from my_service.settings import Settings
from my_service.users import User, normalize_username
from pydantic import ValidationError
from quart import Quart, Response, jsonify, request
from quart_auth import Action, AuthUser, QuartAuth, Unauthorized, current_user, login_user
from shared import LoginRequest, add_security_headers, error_body, fetch_upstream

settings = Settings()
resources = Resources(settings)


class StoreUser(AuthUser):
    """quart-auth's user, resolved from the store on first use and cached for the request."""

    def __init__(self, auth_id: str | None, action: Action = Action.PASS) -> None:
        super().__init__(auth_id, action)
        self._user: User | None = None
        self._resolved = False

    async def user(self) -> User | None:
        if not self._resolved:
            self._resolved = True
            if self.auth_id is not None:
                self._user = await resources.store.user_for_session(self.auth_id)
        return self._user

    @property
    async def is_authenticated(self) -> bool:
        return await self.user() is not None


app = Quart(__name__)
app.config.update(
    SECRET_KEY=settings.secret_key.get_secret_value() or "bench-only-secret",
    QUART_AUTH_COOKIE_SECURE=settings.is_production,
    QUART_AUTH_DURATION=int(settings.session_lifetime.total_seconds()),
)
QuartAuth(app, user_class=StoreUser)


@app.before_serving
async def open_resources() -> None:
    resources.open()
    freeze_startup_heap()  # as the baked service does at start-up: GC settings are not Quart's


@app.after_serving
async def close_resources() -> None:
    await resources.aclose()


@app.after_request
async def security_headers(response: Response) -> Response:
    add_security_headers(response.headers, request.path)
    return response


def error(status: int, title: str, detail: str) -> tuple[Response, int]:
    return jsonify(error_body(status, title, detail)), status


@app.errorhandler(Unauthorized)
async def unauthorized(_: Exception) -> tuple[Response, int]:
    return error(401, "Unauthorized", "Log in first.")


@app.get("/healthz")
async def healthz() -> Response:
    return jsonify(status="ok")


@app.get("/upstream")
async def call_upstream() -> tuple[Response, int]:
    body, status = await fetch_upstream(resources.http, settings.upstream_url)
    return jsonify(body), status


@app.post("/auth/login")
async def login() -> Response | tuple[Response, int]:
    try:
        credentials = LoginRequest.model_validate(await request.get_json())
    except ValidationError:
        return error(422, "Unprocessable Content", "Invalid login request.")
    store = resources.store
    user = await store.authenticate(normalize_username(credentials.username), credentials.password)
    if user is None:
        return error(401, "Unauthorized", "Wrong username or password.")
    token = await store.start_session(user, settings.session_lifetime)
    login_user(StoreUser(token), remember=credentials.remember)
    return jsonify(id=user.id, username=user.username)


@app.get("/auth/me")
async def me() -> Response:
    user = await current_user.user() if isinstance(current_user, StoreUser) else None
    if user is None:
        raise Unauthorized()
    return jsonify(id=user.id, username=user.username)
