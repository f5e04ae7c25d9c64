from __future__ import annotations

import pyarrow as pa

from etlcore.operators._text import remove_all, replace_all
from etlcore.operators.base import Mapper
from etlcore.registry import register

# C0 controls but tab, LF, CR; DEL and the C1 controls; zero-width and format characters.
INVISIBLE = r"[\x{0}-\x{8}\x{B}\x{C}\x{E}-\x{1F}\x{7F}-\x{9F}\x{AD}\x{200B}-\x{200D}\x{2060}\x{FEFF}]"


@register
class RemoveInvisibleCharacter(Mapper):
    """Remove invisible characters, in the seed's ranges 0-32 and 127-160:
    - removed: C0 controls U+0000–U+0008, U+000B, U+000C, U+000E–U+001F; DEL and the C1 controls
      U+007F–U+009F; soft hyphen U+00AD; zero-width space, non-joiner and joiner U+200B–U+200D; word
      joiner U+2060; byte-order mark / zero-width no-break space U+FEFF;
    - kept: tab U+0009, line feed U+000A, carriage return U+000D, space U+0020;
    - U+00A0 (no-break space) becomes an ordinary space.
    A space the removal would leave doubled, at a line's start or end, or before closing punctuation
    goes too."""

    name = "remove_invisible_character"
    stage = "clean"

    def map_texts(self, texts: pa.StringArray) -> pa.StringArray:
        return replace_all(remove_all(texts, INVISIBLE), r"\x{A0}", " ")
