"""SQLAlchemy models of the bot package."""
from sqlalchemy.orm import DeclarativeBase
class Base(DeclarativeBase):
    pass
