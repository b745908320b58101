"""Reading an uploaded or named CSV file with bounded memory: its encoding found from its first bytes,
each line read with a limit, so a file of any size (a gigabyte with no newline, all NUL bytes, a quote
that never closes) costs at most one line, and fails with a sentence that names the line."""

from __future__ import annotations

import codecs
import io

from subscribers.service import SubscriberError

MAX_LINE_CHARS = 64 * 1024  # no real subscriber row comes near this; a line past it is refused
# A quoted field may span lines: a record (all its lines) is bounded too, or a quote left open would
# gather the rest of the file.
MAX_RECORD_CHARS = 128 * 1024
SHOWN_CHARS = 60  # a value quoted in an error is cut to this many characters

# CsvError.code: why the file as a whole cannot be read (params say where)
EMPTY = "empty"
HEADER = "header"  # params: missing, found
LINE_TOO_LONG = "line_too_long"  # params: line, limit
RECORD_TOO_LONG = "record_too_long"  # params: line, limit
NUL = "nul"  # params: line
ENCODING = "encoding"  # params: line, encoding
UNREADABLE = "unreadable"  # params: line, error


class CsvError(SubscriberError):
    """The file as a whole cannot be imported. The message is English (the CLI, the logs); `code` and
    `params` let a page say it in its reader's language."""

    def __init__(self, message: str, code: str = UNREADABLE, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


def cut(value: str, limit: int = SHOWN_CHARS) -> str:
    """A value short enough to quote in one line of an error."""
    return value if len(value) <= limit else value[:limit] + "…"


class CountedBytes(io.RawIOBase):
    """A binary stream that counts the bytes read through it (for a progress bar)."""

    def __init__(self, raw):
        self.raw, self.count = raw, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


def text_of(binary) -> io.TextIOWrapper:
    """The file as text: UTF-16 when it starts with a UTF-16 byte-order mark (Excel's "Unicode text"),
    UTF-8 otherwise (a leading byte-order mark dropped); newlines as csv wants them."""
    buffered = binary if isinstance(binary, io.BufferedReader) else io.BufferedReader(binary)
    start = buffered.peek(2)[:2]
    utf16 = start in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    return io.TextIOWrapper(buffered, encoding="utf-16" if utf16 else "utf-8-sig", newline="")


class Lines:
    """The lines of a text stream for csv.reader, each read with a limit and checked; `number` is the
    file line last read. `record_done()` marks where a record ended (the record limit counts from it)."""

    def __init__(self, text, max_line: int = MAX_LINE_CHARS, max_record: int = MAX_RECORD_CHARS):
        self.text, self.max_line, self.max_record = text, max_line, max_record
        self.number = 0
        self._record = 0
        self.encoding = (getattr(text, "encoding", None) or "utf-8").replace("-sig", "").upper()

    def __iter__(self) -> Lines:
        return self

    def record_done(self) -> None:
        self._record = 0

    def __next__(self) -> str:
        at = self.number + 1
        try:
            # two more than the limit: a line of exactly the limit still fits with its \r\n
            line = self.text.readline(self.max_line + 2)
        except UnicodeDecodeError as exc:
            raise CsvError(
                f"line {at} is not {self.encoding} text (save the file as UTF-8 CSV)",
                ENCODING,
                line=at,
                encoding=self.encoding,
            ) from exc
        if not line:
            raise StopIteration
        self.number = at
        if len(line.rstrip("\r\n")) > self.max_line:
            raise CsvError(
                f"line {at} is longer than {self.max_line} characters: this is not a subscriber list",
                LINE_TOO_LONG,
                line=at,
                limit=self.max_line,
            )
        # In the header, NUL bytes say the file is no text at all (a binary, or UTF-16 without its
        # byte-order mark); in a data row they make that row's values bad, and the row is reported.
        if at == 1 and "\0" in line:
            raise CsvError(
                f"line {at} holds NUL bytes: this is not a CSV text file",
                NUL,
                line=at,
            )
        self._record += len(line)
        if self._record > self.max_record:
            raise CsvError(
                f"line {at}: a row longer than {self.max_record} characters (a quote left open?)",
                RECORD_TOO_LONG,
                line=at,
                limit=self.max_record,
            )
        return line
