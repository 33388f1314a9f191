from datetime import timedelta
from pathlib import Path

from pydantic import Field, SecretStr

from plumbing.settings import ServiceSettings
from services.desk.domain import Windows


class DeskSettings(ServiceSettings):
    database: str = "mash_desk"
    # The desk's pages, /metrics and /health share one port.
    metrics_port: int = Field(default=8400, ge=0, le=65535)
    # Local accounts (`mash users add`); unset with OIDC configured.
    users_file: Path | None = None
    # The research services' public keys (and the desk's own): a finding is
    # shown only when signed by its own agency's research service.
    service_keys_file: Path | None = None
    # Sessions: cookies are Secure (browsers keep Secure cookies for
    # http://localhost, so the embedded stack works as served).
    session_idle_minutes: float = Field(default=20, gt=0)
    cookie_secure: bool = True
    # Logins: at most this many failures per name, and per address, in the window.
    login_failures: int = Field(default=5, ge=1)
    login_window_seconds: float = Field(default=300, gt=0)
    # How long a form waits for the decision service's verdict before the
    # page says it is still waiting (and keeps asking).
    verdict_wait_seconds: float = Field(default=8, gt=0)
    # The decision windows the decision service uses (same variables).
    rag_window_red_hours: float = Field(default=4, gt=0)
    rag_window_amber_hours: float = Field(default=24, gt=0)
    rag_window_green_hours: float = Field(default=72, gt=0)
    # Production: OpenID Connect (Authlib). The role comes from a claim
    # (e.g. groups) holding one of the desk's role names, the agency from
    # another; both are the identity provider's to assert.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_role_claim: str = "mash_role"
    oidc_agency_claim: str = "mash_agency"
    # Signs the short-lived OIDC state cookie (not the session, which is
    # server-side); production mounts it.
    oidc_state_secret: SecretStr | None = None

    def windows(self) -> Windows:
        return Windows(red=timedelta(hours=self.rag_window_red_hours),
                       amber=timedelta(hours=self.rag_window_amber_hours),
                       green=timedelta(hours=self.rag_window_green_hours))

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.session_idle_minutes)
