"""A fast Whoosh segment writer for building a whole index generation (``EssayIndex.rebuild``).

Whoosh's ``SegmentWriter`` handles every posting in Python several times: a ``Token`` per
syllable for each of the four text fields, the format's dictionaries, an external sort pool
pickled to temporary files and merged back, then one ``add_posting()`` call with type checks
per posting and several method calls per term. The exact, folded and two bigram fields carry
~2,200 of the ~2,250 postings of a 1,500-word essay, so for them this writer instead

* analyses the text once for all four fields (``analysis.document_terms``);
* keeps their postings in memory, one ``array('I')`` per term;
* at commit, writes each term's posting blocks and term info itself, a block at a time.

The other fields (ids, dates, themes, the stored body) take Whoosh's usual path. The files are
plain files of Whoosh's default codec: tests/search/test_bulk.py checks that they are byte for
byte what ``SegmentWriter`` writes for the same essays.

``_write_terms`` repeats what ``W3PostingsWriter._write_block`` and ``W3TermInfo.to_bytes``
write, so it is tied to the pinned whoosh3 version; the test above fails if those change.
"""

from __future__ import annotations

import struct
import zlib
from array import array
from itertools import chain, groupby
from operator import itemgetter, sub
from pickle import dumps

from whoosh import formats
from whoosh.codec.whoosh3 import COMPRESSION_MIN_SIZE, WHOOSH3_HEADER_MAGIC, W3TermInfo
from whoosh.system import _INT_SIZE, pack_int, pack_long, pack_ushort
from whoosh.util.numeric import length_to_byte
from whoosh.writing import SegmentWriter

from search.analysis import (
    BigramAnalyzer,
    ExactAnalyzer,
    ExactBigramAnalyzer,
    FoldedAnalyzer,
    document_terms,
)

__all__ = ["BulkWriter"]

# Index of each analyzer's terms in document_terms()'s answer.
_FAST_ANALYZERS = {ExactAnalyzer: 0, FoldedAnalyzer: 1, BigramAnalyzer: 2, ExactBigramAnalyzer: 3}
_PAIR_KINDS = (2, 3)  # the fields of pairs carry positions
# Marks a bigram posting with a single position; docnums stay below it (checked on add).
_ONCE = 1 << 31
# Rough memory cost of a new term (dict slot, key string, empty array) and of one array item,
# for deciding when a segment is full.
_TERM_BYTES = 200
_ITEM_BYTES = 4.5
_pack_uint = struct.Struct("!I").pack  # how Frequency encodes a posting's value
_TERMINFO = W3TermInfo._struct


def _fast_kind(field) -> int | None:
    """Which document_terms() part indexes this field, or None if it takes Whoosh's path."""
    kind = _FAST_ANALYZERS.get(type(field.analyzer))
    if kind is None:
        return None
    fmt = field.format
    wanted = formats.Positions if kind in _PAIR_KINDS else formats.Frequency
    if type(fmt) is not wanted or fmt.field_boost != 1.0:
        return None
    return kind


class BulkWriter(SegmentWriter):
    """A ``SegmentWriter`` for adding many documents to a new index, several times faster.

    Only ``add_document`` (no boosts, no ``_stored_*`` values) and ``commit``/``cancel``.
    Postings of the text fields stay in memory until commit: when ``is_full()`` says so, commit
    this writer (``merge=False``) and carry on with a new one, which starts a new segment.
    An error inside ``add_document`` leaves the writer unusable: cancel it.
    """

    def __init__(self, ix, limitmb: int = 1024, **kwargs) -> None:
        super().__init__(ix, limitmb=limitmb, **kwargs)
        self._limit = limitmb * 1024 * 1024
        self._size = 0
        self._fast = {}
        for name, field in self.schema.items():
            if field.vector or field.separate_spelling():
                raise ValueError(f"BulkWriter does not write vectors or spelling ({name!r})")
            kind = _fast_kind(field)
            if kind is not None:
                self._fast[name] = kind
        self._postings: dict[str, dict[str, array]] = {name: {} for name in self._fast}
        self._text: str | None = None
        self._terms: tuple | None = None

    def is_full(self) -> bool:
        """Tell whether the postings held in memory reached limitmb."""
        return self._size >= self._limit

    def add_document(self, **fields) -> None:
        """Add one document; the same fields and values as ``SegmentWriter.add_document``."""
        self._check_state()
        if any(name.startswith("_") for name in fields):
            raise ValueError("BulkWriter takes no boosts or _stored_ values")
        schema = self.schema
        docnum = self.docnum
        if docnum >= _ONCE:
            raise ValueError("too many documents for one segment")
        fieldnames = sorted(fields)
        self._check_fields(schema, fieldnames)
        perdoc = self.perdocwriter
        add_post = self.pool.add
        perdoc.start_doc(docnum)
        for fieldname in fieldnames:
            value = fields[fieldname]
            if value is None:
                continue
            field = schema[fieldname]
            length = 0
            if field.indexed:
                if fieldname in self._fast:
                    if not isinstance(value, str):
                        raise ValueError(f"{fieldname!r} takes text, not {type(value).__name__}")
                    length = self._add_fast(fieldname, docnum, value)
                else:
                    for tbytes, freq, weight, vbytes in field.index(value):
                        if field.scorable:
                            length += freq
                        add_post((fieldname, tbytes, docnum, weight, vbytes))
            perdoc.add_field(fieldname, field, value if field.stored else None, length)
            if field.column_type:
                perdoc.add_column_value(fieldname, field.column_type, field.to_column_value(value))
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def _add_fast(self, fieldname: str, docnum: int, text: str) -> int:
        """Append this document's postings of one text field; returns the field length."""
        if text != self._text:  # the four text fields get the same text: analyse it once
            self._text, self._terms = text, document_terms(text)
        terms = self._terms[self._fast[fieldname]]
        store = self._postings[fieldname]
        before = len(store)
        length = 0
        if self._fast[fieldname] in _PAIR_KINDS:
            # (docnum | _ONCE, position) for a bigram seen once, else (docnum, n, n positions).
            once = docnum | _ONCE
            repeated = 0
            for term, positions in terms.items():
                postings = store.get(term)
                if postings is None:
                    store[term] = postings = array("I")
                if type(positions) is int:
                    postings.append(once)
                    postings.append(positions)
                    length += 1
                else:
                    postings.append(docnum)
                    postings.append(len(positions))
                    postings.extend(positions)
                    length += len(positions)
                    repeated += len(positions)
            items = 2 * len(terms) + repeated
        else:
            for term, freq in terms.items():
                postings = store.get(term)
                if postings is None:
                    store[term] = postings = array("I")
                postings.append(docnum)
                postings.append(freq)
                length += freq
            items = 2 * len(terms)
        self._size += _ITEM_BYTES * items + _TERM_BYTES * (len(store) - before)
        return length

    # -- commit --------------------------------------------------------------------------------

    def _flush_segment(self) -> None:
        # SegmentWriter._flush_segment with our fields' postings slotted in field-name order
        # among the pool's (the term index wants one contiguous run per field).
        self.perdocwriter.close()
        pdr = self.per_document_reader()
        try:
            fast = sorted(name for name, store in self._postings.items() if store)
            fw = self.fieldwriter
            for fieldname, items in groupby(self.pool.iter_postings(), key=itemgetter(0)):
                while fast and fast[0] < fieldname:
                    self._write_fast_field(fast.pop(0), pdr)
                fw.add_postings(self.schema, pdr, items)
            for fieldname in fast:
                self._write_fast_field(fieldname, pdr)
            fw.close()
        finally:
            pdr.close()
        self._text = self._terms = None
        self._size = 0

    def _write_fast_field(self, fieldname: str, pdr) -> None:
        field = self.schema[fieldname]
        # Block statistics use the length as stored (one byte, lossy), as Whoosh's writer does.
        field_length = pdr.doc_field_length_reader(fieldname)
        lengths = [field_length(d) or 0 for d in range(self.docnum)]
        fw = self.fieldwriter
        fw.start_field(fieldname, field)
        if isinstance(field.format, formats.Positions):
            decode = _positions_decoder(field.format)
        else:
            decode = _frequencies
        _write_terms(fw, self._postings[fieldname], decode, lengths, field.format.fixed_value_size())
        fw.finish_field()


def _write_terms(fw, store: dict[str, array], decode, lengths: list[int], fixed_size: int | None) -> None:
    """Write every term of one field as W3FieldWriter and W3PostingsWriter would, emptying store.

    Their per-posting and per-term method calls (and a tell() system call per block) were
    most of the commit time; the bytes are the same (tests/search/test_bulk.py).
    """
    pw = fw._postwriter
    blocklimit, compression = pw._blocklimit, pw._compression
    postfile = fw._postfile
    write = postfile.write
    offset = postfile.tell()
    add_term = fw._tindex.add
    key_prefix = pack_ushort(fw._fieldid)
    for term in sorted(store):  # code point order is UTF-8 byte order
        ids, freqs, values = decode(store.pop(term))
        n = len(ids)
        term_start = offset
        write(WHOOSH3_HEADER_MAGIC)
        offset += len(WHOOSH3_HEADER_MAGIC)
        weight, minlength, maxlength, maxweight = 0, None, 0, 0
        for start in range(0, n, blocklimit):
            end = start + blocklimit
            block_ids, block_freqs = ids[start:end], freqs[start:end]
            weights = array("f", block_freqs)
            weight += sum(weights)
            block_maxweight = float(max(block_freqs))
            maxweight = max(maxweight, block_maxweight)
            block_lengths = list(map(lengths.__getitem__, block_ids))
            if 0 in block_lengths:  # no length stored: Whoosh leaves it out of the statistics
                block_lengths = [x for x in block_lengths if x]
            block_minlength = min(block_lengths) if block_lengths else None
            block_maxlength = max(block_lengths, default=0)
            minlength = block_minlength if minlength is None else min(minlength, block_minlength)
            maxlength = max(maxlength, block_maxlength)
            # W3PostingsWriter._write_block
            deltas = tuple(map(sub, block_ids, chain((0,), block_ids)))
            count = len(block_freqs)
            if block_freqs.count(1) == count:
                mini_weights = None
            elif block_freqs.count(block_freqs[0]) == count:
                mini_weights = weights[0]
            else:
                mini_weights = tuple(weights)
            block_values = values[start:end]
            if fixed_size is None or fixed_size < 0:
                mini_values = tuple(block_values)
            elif fixed_size == 0:
                mini_values = None
            else:
                mini_values = b"".join(block_values)
            data = dumps((deltas, mini_weights, mini_values), 2)
            comp = compression if len(data) >= COMPRESSION_MIN_SIZE else 0
            if comp:
                data = zlib.compress(data, comp)
            info = dumps(
                (
                    count,
                    block_ids[-1],
                    block_maxweight,
                    comp,
                    length_to_byte(block_minlength),
                    length_to_byte(block_maxlength),
                ),
                2,
            )
            size = len(info) + len(data)
            write(pack_int(-size if end >= n else size))  # the last block's size is negative
            write(info)
            write(data)
            offset += _INT_SIZE + size
        # W3TermInfo.to_bytes
        terminfo = _TERMINFO.pack(
            False,
            weight,
            n,
            0 if minlength is None else length_to_byte(minlength),
            length_to_byte(maxlength),
            maxweight,
            ids[0],
            ids[-1],
        )
        add_term(key_prefix + term.encode("utf-8"), terminfo + pack_long(term_start) + pack_int(offset - term_start))


def _frequencies(postings: array) -> tuple[array, array, list[bytes]]:
    freqs = postings[1::2]
    return postings[0::2], freqs, list(map(_pack_uint, freqs))


def _positions_decoder(fmt: formats.Positions):
    encode = fmt.encode
    # Most bigrams occur once in an essay: encode([pos]) from a cached pickle of [pos]. Each
    # value must still be its own bytes object, as in Whoosh, or pickling the block would
    # write back-references and the file would differ.
    one = encode([0])[: len(_pack_uint(1))]
    single: dict[int, bytes] = {}

    def decode(postings: array) -> tuple[array, array, list[bytes]]:
        ids, freqs, values = array("I"), array("I"), []
        i, end = 0, len(postings)
        while i < end:
            docnum = postings[i]
            if docnum & _ONCE:
                ids.append(docnum ^ _ONCE)
                freqs.append(1)
                pos = postings[i + 1]
                tail = single.get(pos)
                if tail is None:
                    tail = single[pos] = encode([pos])[len(one) :]
                values.append(one + tail)
                i += 2
            else:
                n = postings[i + 1]
                ids.append(docnum)
                freqs.append(n)
                values.append(encode(postings[i + 2 : i + 2 + n]))
                i += 2 + n
        return ids, freqs, values

    return decode
