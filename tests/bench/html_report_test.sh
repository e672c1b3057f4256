#!/usr/bin/env bash
# The HTML capacity report renders its charts in a real browser: `mcx-kms bench local` (short
# phases) on a demo KMS writes the page, headless Chromium takes a screenshot, and a small PNG
# reader (zlib only) checks that each chart's plot area was drawn, with series lines inside it.
#   usage: html_report_test.sh MCX_KMS_BINARY
set -uo pipefail
bin="$1"
browser="$(command -v chromium || true)"
[ -n "$browser" ] || { echo "html_report_test: chromium is missing: run tools/install-deps.sh"; exit 1; }
tmp="$(mktemp -d /tmp/mcx-kms-html-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

"$bin" init --demo --data-dir "$tmp/kms" >"$tmp/init.log" 2>&1 || { echo "FAIL: init"; cat "$tmp/init.log"; exit 1; }
"$bin" bench local --data-dir "$tmp/kms" --step-seconds 0.3 --provision-seconds 0.5 --warmup 0.5 --duration 2 \
  --html "$tmp/report.html" --json "$tmp/report.json" >"$tmp/bench.txt" 2>"$tmp/bench.err" \
  || { echo "FAIL: bench local"; cat "$tmp/bench.err"; exit 1; }
echo "ok: bench local wrote the report"

timeout 60 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$tmp/profile" --screenshot="$tmp/shot.png" --window-size=1200,2000 \
  "file://$tmp/report.html" >"$tmp/chromium.log" 2>&1
[ -s "$tmp/shot.png" ] || { echo "FAIL: no screenshot"; tail -5 "$tmp/chromium.log"; exit 1; }
echo "ok: screenshot taken"

python3 - "$tmp/shot.png" <<'PY'
import struct, sys, zlib

def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and color in (2, 6) and interlace == 0, "unexpected PNG format"
    bpp = 4 if color == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(height):
        ftype, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ftype == 1: line[x] = (line[x] + a) & 255
            elif ftype == 2: line[x] = (line[x] + b) & 255
            elif ftype == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows

width, height, bpp, rows = read_png(sys.argv[1])
PLOT = (0xEE, 0xF2, 0xF8)  # the plot areas' fill
def px(row, x): return tuple(row[x * bpp:x * bpp + 3])
# A chart's plot area: a band of rows holding a long run of the plot fill.
plot_rows = [y for y, row in enumerate(rows) if sum(1 for x in range(0, width, 4) if px(row, x) == PLOT) > 100]
bands, start = [], None
plot_rows_set = set(plot_rows)
for y in range(height + 1):
    if y < height and y in plot_rows_set:
        start = y if start is None else start
    elif start is not None:
        bands.append((start, y)); start = None
# Grid lines and series lines cross the plot areas: join pieces a few rows apart. A series that
# runs flat across the whole width (2 threads no faster than 1, on a loaded machine) hides the
# fill over its line width and antialiasing, more than 4 rows (seen in CI under ASan); the charts
# themselves are 90 rows apart.
joined = []
for b in bands:
    if joined and b[0] - joined[-1][1] <= 16:
        joined[-1] = (joined[-1][0], b[1])
    else:
        joined.append(b)
bands = [b for b in joined if b[1] - b[0] > 100]
print("plot areas found: %d %s" % (len(bands), bands))
fails = 0
if len(bands) < 4:
    print("FAIL: expected 4 charts (throughput, latency, two timelines)"); fails += 1
for top, bottom in bands:
    # Strongly coloured pixels (series lines, points) inside the plot area.
    coloured = 0
    for y in range(top, bottom, 2):
        for x in range(0, width, 2):
            r, g, b = px(rows[y], x)
            if max(r, g, b) - min(r, g, b) > 80: coloured += 1
    ok = coloured > 50
    fails += 0 if ok else 1
    print("%s: chart at rows %d-%d has %d series pixels" % ("ok" if ok else "FAIL", top, bottom, coloured))
sys.exit(1 if fails else 0)
PY
