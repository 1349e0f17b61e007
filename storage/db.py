"""Engines for SQLite (the embedded default) and PostgreSQL, set up the way each needs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVarTuple, cast, overload

from sqlalchemy import Connection, CursorResult, Engine, Executable, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, OperationalError
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from sqlalchemy.sql.dml import Insert, UpdateBase
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.selectable import TypedReturnsRows

from storage import prepared


def normalise_url(url: str) -> URL:
    """`postgresql://` (what operators write) means psycopg 3 here."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL; None for an in-memory database (or no file)."""
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return database


def retryable(exc: BaseException) -> bool:
    """Whether running the same transaction again may succeed: a concurrent one won a race
    that the database settled (a unique key taken first, a deadlock victim, a lock that
    timed out)."""
    return isinstance(exc, IntegrityError | OperationalError)


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, **kwargs)
    engine = create_engine(parsed, pool_size=10, max_overflow=20, **kwargs)
    _ping_when_idle(engine)
    return engine


# A pooled connection returned to the pool less than this long ago is used without a ping.
PING_IDLE_S = 2.0
_RETURNED = "partnerline_returned_at"


def _ping_when_idle(engine: Engine) -> None:
    """Ping a connection at checkout only if it sat in the pool for PING_IDLE_S or more.

    `pool_pre_ping` pings at every checkout: a round trip for each transaction (4.3 a
    message under bench.e2e at 150/s), on a connection used milliseconds before. A server
    that went away since then fails the transaction's first statement instead; SQLAlchemy
    sees the disconnect and discards the pool's connections, and the transaction is done
    again as any failed one is (the worker's retries, the provider's redelivery of a
    webhook answered 503)."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info[_RETURNED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED)
        if returned is None or time.monotonic() - returned < PING_IDLE_S:
            return  # just connected, or used moments ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and checks out another (up to three times).
            raise DisconnectionError(str(error)) from error


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    # Pooled connections kept for every thread that may hold one at once (the worker's and
    # the web's threads, the mirror's jobs): a connection opened past the pool is closed on
    # return, and opened again with its PRAGMAs (88 times in 15 s of bench.e2e at 60/s).
    kwargs.setdefault("pool_size", 20)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see "begin" below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before the webhook is answered, even if the OS crashes.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_conn: Any, record: Any) -> None:
        if record.info.pop(_LIGHT, False):  # see `Database.session`
            dbapi_conn.execute("PRAGMA synchronous=FULL")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        # An autocommit connection reads outside any transaction (storage/schedule.py).
        if options.get("isolation_level") == "AUTOCOMMIT":
            return
        # A reader takes no lock until it reads, and then shares it: under WAL it reads a
        # snapshot while a writer goes on. A writer takes the write lock at the start, so
        # two writers queue instead of deadlocking when both try to upgrade a read lock.
        begin = "BEGIN DEFERRED" if options.get(READ_ONLY) else "BEGIN IMMEDIATE"
        driver = conn.connection.driver_connection
        # On the driver's connection: no result to read, and SQLAlchemy's execution of a
        # statement (events, context, result) costs more than the BEGIN itself. A failure
        # ("database is locked") is raised as SQLAlchemy would raise it.
        dbapi_error = conn.dialect.loaded_dbapi.Error
        try:
            if options.get(_LIGHT):  # see `Database.session`; SQLite takes it outside a
                conn.connection.info[_LIGHT] = True  # transaction, and so is it set back
                driver.execute("PRAGMA synchronous=NORMAL")
            driver.execute(begin)
        except dbapi_error as error:
            raise DBAPIError.instance(
                begin, None, error, dbapi_error, dialect=conn.dialect
            ) from error

    return engine


def _synchronize_only_what_is_loaded(state: ORMExecuteState) -> None:
    """An UPDATE or DELETE through the session brings the objects it loaded up to date
    ("evaluate", the default), which costs an evaluator per statement; the repositories
    rarely hold any object of the table they update, and then there is nothing to bring
    up to date."""
    if not (state.is_update or state.is_delete):
        return
    if "synchronize_session" in state.execution_options:
        return
    mapper = state.bind_mapper
    if mapper is None:
        return
    if holds(state.session, mapper.class_):
        return
    state.update_execution_options(synchronize_session=False)


def holds(session: Session, mapped: type[Any]) -> bool:
    """Whether the session holds objects of the class: loaded, or added but not flushed
    (an ORM statement's autoflush makes those loaded)."""
    held = session.identity_map.keys()  # (class, primary key, token) of each object
    if any(key[0] is mapped for key in held):
        return True
    return any(isinstance(added, mapped) for added in session.new)


_Ts = TypeVarTuple("_Ts")


@overload
def run(
    session: Session, statement: TypedReturnsRows[*_Ts], params: Any = None
) -> CursorResult[*_Ts]: ...
@overload
def run(
    session: Session, statement: Executable, params: Any = None
) -> CursorResult[*tuple[Any, ...]]: ...
def run(session: Session, statement: Executable, params: Any = None) -> CursorResult[Any]:
    """Execute a hot-path statement on the session's connection, as Core: rows, never objects.

    Through the session, an ORM-annotated statement (`select(Row)`, `select(Row.id)`,
    `update(Row)`) costs two to four times what it does on the connection (measured on
    SQLite: a one-row SELECT about 150 us against 70, an UPDATE 185 against 45), and even a
    Core one pays for the session's events. What the session would do is kept: its pending
    objects are flushed first (autoflush), and an UPDATE or DELETE of a table it holds
    objects of goes through it, which brings them up to date."""
    session.flush()  # nothing to do, and cheap, when nothing is pending
    if _dml_of_held(session, statement):
        return cast(CursorResult[Any], session.execute(statement, params))
    return execute(session.connection(), statement, params)


def execute(connection: Connection, statement: Executable, params: Any = None) -> Any:
    """A statement built once, on a Core connection: prepared (storage/prepared.py) when it
    can be, else through SQLAlchemy. `params`: one row of them (a dict), or None."""
    if params is None:
        params = {}
    if isinstance(params, dict) and isinstance(statement, ClauseElement):
        rows = prepared.execute(connection, statement, params)
        if rows is not None:
            return rows
    return connection.execute(statement, params)


def _dml_of_held(session: Session, statement: Executable) -> bool:
    if not isinstance(statement, UpdateBase) or isinstance(statement, Insert):
        return False
    mapper = prepared.entity(statement)
    return mapper is not None and holds(session, mapper)


# The execution option of a reading engine (`Database.read_session`).
READ_ONLY = "partnerline_read_only"
# The execution option of sessions whose commits SQLite does not sync (`Database.session`),
# and the mark of a connection that began one.
_LIGHT = "partnerline_light_commit"


class Database:
    """One engine and its session factory; writes on SQLite are serialised in-process."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.sqlite = is_sqlite(self.engine)
        self.light_sessions = self.sessions
        if self.sqlite:
            self.light_sessions = sessionmaker(
                self.engine.execution_options(**{_LIGHT: True}), expire_on_commit=False
            )
        reading: dict[str, Any] = {READ_ONLY: True}
        if not self.sqlite:
            # The server refuses any write in the transaction (BEGIN READ ONLY: no round
            # trip of its own), so that it can end with a COMMIT (see `end_read`).
            reading["postgresql_readonly"] = True
        self.readers = sessionmaker(
            self.engine.execution_options(**reading), expire_on_commit=False
        )
        # Readers outside any transaction (`read_session(glance=True)`): PostgreSQL only;
        # SQLite's reader is a BEGIN DEFERRED in-process, with no round trip to save.
        self.glancers = self.readers
        if not self.sqlite:
            self.glancers = sessionmaker(
                self.engine.execution_options(**{READ_ONLY: True}, isolation_level="AUTOCOMMIT"),
                expire_on_commit=False,
            )
        # Connections whose every statement commits on its own (`write_connection`).
        self._autocommitting = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        for factory in (self.sessions, self.light_sessions, self.readers, self.glancers):
            event.listen(factory, "do_orm_execute", _synchronize_only_what_is_loaded)
        # SQLite admits one writer at a time; queueing threads here is far cheaper than
        # letting them spin in SQLite's busy handler.
        self._write_lock = threading.Lock() if self.sqlite else None

    @contextmanager
    def session(self, *, durable: bool = True) -> Iterator[Session]:
        """A session that writes. `durable=False`: for work that is done again when lost
        (the Slack mirror's records, its jobs' leases and ends), never for a client's
        message, an outbox claim or a send. SQLite in WAL mode with synchronous=FULL syncs
        the log at each commit, about 300 us with the write lock held, half of it CPU in
        the kernel; such a session's transactions run with synchronous=NORMAL: a commit
        survives the process dying and is synced with the next FULL commit or checkpoint,
        and only the machine going down before then loses it. On PostgreSQL, the same."""
        sessions = self.sessions if durable else self.light_sessions
        if self._write_lock is None:
            with sessions() as session:
                yield session
            return
        with self._write_lock, sessions() as session:
            yield session

    @contextmanager
    def read_session(self, *, glance: bool = False) -> Iterator[Session]:
        """A session that only reads: it never waits for the in-process write lock, so a
        page or a look at the state does not queue behind the worker's writes. (Nothing
        it does is committed: see `UnitOfWork(read_only=True)`.) `glance`: on PostgreSQL,
        each statement on its own, in autocommit: no BEGIN and COMMIT round trips, and no
        snapshot shared between its statements; for code that only reads (a write there
        would not wait for a commit)."""
        with (self.glancers if glance else self.readers)() as session:
            yield session

    @contextmanager
    def write_connection(self, *, one_statement: bool = False) -> Iterator[Connection]:
        """A Core connection in a transaction, committed on leaving (batch writers).
        `one_statement`: the caller writes in one statement, which on PostgreSQL then runs in
        autocommit, its own transaction, without the BEGIN and COMMIT round trips. (SQLite's
        BEGIN and COMMIT cost no round trip, and its writers share one lock.)"""
        if self._write_lock is None:
            if one_statement:
                with self._autocommitting.connect() as conn:
                    yield conn
                return
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    def end_read(self, session: Session) -> None:
        """End a reading session's transaction. On PostgreSQL with a COMMIT, which the READ
        ONLY transaction makes as harmless as a ROLLBACK: psycopg forgets every statement it
        prepared on the connection at a ROLLBACK (and deallocates them), so a reader ending
        that way made the next transactions on its connection parse and plan each statement
        again (1,870 rollbacks and most of the mirror's statements never prepared in 12 s
        of bench.e2e at 150/s). On SQLite, a ROLLBACK: it prepares nothing across them."""
        if self.sqlite:
            session.rollback()
        else:
            session.commit()

    def ping(self) -> None:
        """Raises unless the database answers a query."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
