#!/bin/sh
# Regenerate the expected outputs from damo 3.3.0 (data only; damo is not
# vmlab's): DAMO=/path/to/damo-3.3.0/damo sh gen.sh
# damo pipes more than 50 lines through `less`, which drops print()'s final
# newline: every output is stored ending in exactly one newline, as vmlab
# prints it.
set -e
cd "$(dirname "$0")"
: "${DAMO:?set DAMO to damo 3.3.0's damo script}"
grep -v '^#' cases | while IFS='|' read -r name rec args; do
  name=$(echo $name); rec=$(echo $rec)
  eval "python3 \"$DAMO\" report access -i \"$rec\" $args" | sed '$a\' | gzip -9n > "$name.gz"
done
