"""The durable board: the `Board` protocol, the SQLite board and the in-memory fake."""

from shipyard.board.base import Board
from shipyard.board.memory import InMemoryBoard
from shipyard.board.sqlite import SqliteBoard

__all__ = ["Board", "InMemoryBoard", "SqliteBoard"]
