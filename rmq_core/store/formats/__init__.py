"""Pure byte layouts of the store's files, as ``struct.Struct`` objects with docstring tables.

- :mod:`.commitlog`: segment names and the end-of-file BLANK record (the message record itself
  lives in :mod:`rmq_core.common.message_codec`, shared with the broker and client);
- :mod:`.consume_queue`: the 20-byte consume-queue unit;
- :mod:`.index`: IndexFile header, hash slot and entry;
- :mod:`.checkpoint`: the 4 KiB checkpoint page.
"""
