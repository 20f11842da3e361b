#!/usr/bin/env python3
"""Regenerate src/engine/data/split.tsv, the 拆字 (split character) table.

Each output row is  CHAR <TAB> FIRST <TAB> SECOND <TAB> LAYOUT  where LAYOUT
is `lr` (⿰, left-right) or `tb` (⿱, top-bottom): 赌 = 贝 + 者 (lr),
李 = 木 + 子 (tb).

Inputs (nothing is downloaded):

  DECOMP   amake/cjk-decomp's cjk-decomp.txt: either the file itself, or a
           bare git directory of the repository (the file is then read from
           HEAD and the commit is recorded in the header).  Licence: the
           repository's LICENSE file is the Apache License 2.0; its README
           offers the data under a choice of Apache-2.0, MIT, LGPL-3.0,
           CC-BY-SA-3.0, ODC-By-1.0 or EPL-1.0.  This table uses it under
           Apache-2.0.
  --unihan DIR
           a Unicode Character Database directory holding
           Unihan_OtherMappings.txt (or .txt.bz2, or Unihan.zip) and
           EquivalentUnifiedIdeograph.txt.  Debian's `unicode-data` package
           installs both in /usr/share/unicode (the default).  The
           character set is the Unihan kTGH field (the 8105 characters of
           通用规范汉字表, 2013) or, with --set gb2312, kGB0 (GB 2312's 6763).

Derivation, for every character of the chosen set that cjk-decomp lists:

  * keep records of type `a` (flows across  -> lr) or `d` (flows downwards
    -> tb), bare or with the `/t` (touching) modifier, and `d/m` (molded),
    and the bare surrounds `stl` `sbl` `st` `str` `sl` `sb` (-> s, outer
    part first, the order people type them in),
    that have exactly two constituents; `/o` (overlapping), `/s` (snapped)
    and `a/m` joins, and every other configuration (surround, within, lock,
    repeat, ...) are left out;
  * 卄 as the top part of a `d` record becomes 艹, as the bottom part 廾
    (cjk-decomp writes both as 卄);
  * a constituent that is one of cjk-decomp's numbered intermediate
    components (not in Unicode) drops the row;
  * a CJK Radicals Supplement / Kangxi radical constituent is mapped to its
    unified ideograph by EquivalentUnifiedIdeograph.txt, except for the few
    in CHAT_FORMS below, where the form people type is used instead;
  * a CJK stroke (U+31C0..U+31EF) is mapped by STROKES below to the
    ideograph written with that one stroke, and any other stroke drops the
    row;
  * a constituent that is not then one CJK unified ideograph (BMP or
    extension) drops the row, and so does one equal to the character.

  * FIXES and DROPS below correct or leave out the few rows found wrong by
    cross-checking against other tables.

cjk-decomp has one record per character, so there is nothing to choose
between.  Rows are sorted by code point.

Usage:
  python3 scripts/make-split-table.py /work/.mirror/amake+cjk-decomp/repo \\
      [--unihan /usr/share/unicode] [--set tgh|gb2312] \\
      [-o src/engine/data/split.tsv]
"""

import argparse
import bz2
import io
import os
import re
import subprocess
import sys
import unicodedata
import zipfile

# Radicals whose EquivalentUnifiedIdeograph.txt target is an extension
# ideograph nobody types (or that has none); the everyday form instead.
CHAT_FORMS = {
    "\u2eae": "\u7af9",  # ⺮ bamboo: 𥫗 U+25AD7 -> 竹
    "\u2eca": "\u8db3",  # ⻊ foot: 𧾷 U+27FB7 -> 足
    "\u2e95": "\u5f50",  # ⺕ snout two: 𫜹 U+2B739 -> 彐
    "\u2eaa": "\u758b",  # ⺪ bolt of cloth: 𤴔 U+24D14 -> 疋
    "\u2eb3": "\u7f52",  # ⺳ net three: 㓁 U+34C1 -> 罒
}

# CJK strokes that are, alone, a unified ideograph (NamesList.txt gives
# e.g. "1st stroke of 4E59" for U+31E0).  Other strokes drop the row.
STROKES = {
    "\u31d0": "\u4e00",  # ㇐ H -> 一
    "\u31d1": "\u4e28",  # ㇑ S -> 丨
    "\u31d2": "\u4e3f",  # ㇒ P -> 丿
    "\u31d3": "\u4e3f",  # ㇓ SP -> 丿
    "\u31d4": "\u4e36",  # ㇔ D -> 丶
    "\u31da": "\u4e85",  # ㇚ SG -> 亅
    "\u31df": "\u4e5a",  # ㇟ SWG -> 乚
    "\u31e0": "\u4e59",  # ㇠ HXWG -> 乙
}

# cjk-decomp writes both the grass radical and 廾 as 卄 U+5344: on top (the
# first part of a downward record) it is typed 艹 U+8279, at the bottom
# (开 异 弄 弊 ...) 廾 U+5EFE.
GRASS_TOP = ("\u5344", "\u8279")
GONG_BOTTOM = ("\u5344", "\u5efe")

# Rows corrected or left out by hand after cross-checking the output against
# yi-bai/ids (MIT) and kfcd/chaizi (CC-BY-3.0); nothing else is taken from
# either.  CHAR: (FIRST, SECOND, LAYOUT) replaces the derived row.
FIXES = {
    "\u8346": ("\u8279", "\u5211", "tb"),  # 荆 a(卄,刑): is ⿱艹刑
    "\u6170": ("\u5c09", "\u5fc3", "tb"),  # 慰 a(尉,心): is ⿱尉心
    "\u5e11": ("\u5974", "\u5dfe", "tb"),  # 帑 a(奴,巾): is ⿱奴巾
    "\u9760": ("\u544a", "\u975e", "tb"),  # 靠 d(⺧,啡): is ⿱告非
    "\u725a": ("\u5c1a", "\u7259", "tb"),  # 牚 d(龸,呀): is ⿱尚牙
    "\u6240": ("\u6237", "\u65a4", "lr"),  # 所 a(戶,斤): typed 户 U+6237
}
DROPS = {
    "\u56f7",  # 囷 a(囗,禾): is ⿴ (enclosure)
    "\u518f",  # 冏 a(⺆,㕣): is ⿵
    "\u4e78",  # 乸 a(也,母): is ⿺
    "\u89c3",  # 觃 a(见,子): is ⿺
    "\u51e0",  # 几 a(㇓,㇠): strokes, not two parts
}

# Surrounds are typed outer part first (`疒知` for 痴, `辶畐` for 逼,
# `门口` for 问): stl = ⿸, sbl = ⿺, st = ⿵, str = ⿹, sl = ⿷, sb = ⿶.
LAYOUTS = {"a": "lr", "d": "tb", "stl": "s", "sbl": "s", "st": "s", "str": "s", "sl": "s", "sb": "s"}
# a/m rows are all 戈 overlaps (我 手+戈, 成 万+戈, ...), not ⿰.
MODIFIERS_KEPT = {"a": {"", "t"}, "d": {"", "t", "m"}, "stl": {""}, "sbl": {""}, "st": {""}, "str": {""}, "sl": {""}, "sb": {""}}
RECORD = re.compile(r"^([^:]+):([^(]*)\((.*)\)$")


def is_unified(ch):
    o = ord(ch)
    return (
        0x4E00 <= o <= 0x9FFF
        or 0x3400 <= o <= 0x4DBF
        or 0x20000 <= o <= 0x323AF
    )


def read_decomp(path):
    """Return (text, description of where it came from)."""
    if os.path.isdir(path):
        git = ["git", "--git-dir", path]
        commit = subprocess.check_output(git + ["rev-parse", "HEAD"], text=True).strip()
        text = subprocess.check_output(git + ["show", "HEAD:cjk-decomp.txt"]).decode("utf-8")
        return text, commit
    with open(path, encoding="utf-8") as f:
        return f.read(), None


def unihan_lines(unihan_dir, name):
    plain = os.path.join(unihan_dir, name)
    if os.path.exists(plain):
        return open(plain, encoding="utf-8")
    if os.path.exists(plain + ".bz2"):
        return bz2.open(plain + ".bz2", "rt", encoding="utf-8")
    z = zipfile.ZipFile(os.path.join(unihan_dir, "Unihan.zip"))
    return io.TextIOWrapper(z.open(name), encoding="utf-8")


def read_char_set(unihan_dir, field):
    chars, version = set(), None
    for line in unihan_lines(unihan_dir, "Unihan_OtherMappings.txt"):
        if line.startswith("# Unicode version:"):
            version = line.split(":", 1)[1].strip()
        parts = line.rstrip("\n").split("\t")
        if len(parts) == 3 and parts[1] == field:
            chars.add(chr(int(parts[0][2:], 16)))
    return chars, version


def read_equivalents(unihan_dir):
    eq = {}
    with open(os.path.join(unihan_dir, "EquivalentUnifiedIdeograph.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            src, dst = (p.strip() for p in line.split(";"))
            lo, _, hi = src.partition("..")
            for cp in range(int(lo, 16), int(hi or lo, 16) + 1):
                eq[chr(cp)] = chr(int(dst, 16))
    return eq


def component(raw, eq, drops):
    if len(raw) != 1:  # a numbered intermediate component, or junk
        drops["intermediate component"] += 1
        return None
    if raw in CHAT_FORMS:
        return CHAT_FORMS[raw]
    o = ord(raw)
    if 0x2E80 <= o <= 0x2FDF:
        if raw in eq:
            return eq[raw]
        drops["radical without equivalent"] += 1
        return None
    if 0x31C0 <= o <= 0x31EF:
        if raw in STROKES:
            return STROKES[raw]
        drops["stroke"] += 1
        return None
    if 0xF900 <= o <= 0xFAFF:
        raw = unicodedata.normalize("NFC", raw)
    if not is_unified(raw):
        drops["not a unified ideograph"] += 1
        return None
    return raw


def build(text, chars, eq):
    from collections import Counter

    drops = Counter()
    rows = {}
    for line in text.splitlines():
        line = line.strip()
        m = RECORD.match(line)
        if not m:
            continue
        ch, kind, comps = m.groups()
        if ch not in chars or ch in rows:
            continue
        base, _, modifier = kind.partition("/")
        if ch in DROPS:
            drops["left out by hand (DROPS)"] += 1
            continue
        if ch in FIXES:
            rows[ch] = FIXES[ch]
            continue
        if base not in LAYOUTS or modifier not in MODIFIERS_KEPT[base]:
            drops["configuration %s" % kind] += 1
            continue
        parts = comps.split(",") if comps else []
        if len(parts) != 2:
            drops["%d constituents" % len(parts)] += 1
            continue
        first, second = (component(p, eq, drops) for p in parts)
        if first is None or second is None:
            continue
        if ch in (first, second):
            drops["component equals character"] += 1
            continue
        if base == "d" and first == GRASS_TOP[0]:
            first = GRASS_TOP[1]
        if base == "d" and second == GONG_BOTTOM[0]:
            second = GONG_BOTTOM[1]
        rows[ch] = (first, second, LAYOUTS[base])
    return rows, drops


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("decomp", help="cjk-decomp.txt, or a bare git dir of amake/cjk-decomp")
    ap.add_argument("--unihan", default="/usr/share/unicode")
    ap.add_argument("--set", choices=["tgh", "gb2312"], default="tgh")
    ap.add_argument("--commit", help="commit to record when DECOMP is a plain file")
    ap.add_argument("-o", "--output", default="-")
    args = ap.parse_args()

    text, commit = read_decomp(args.decomp)
    commit = commit or args.commit or "unknown"
    field = "kTGH" if args.set == "tgh" else "kGB0"
    chars, ucd_version = read_char_set(args.unihan, field)
    eq = read_equivalents(args.unihan)
    rows, drops = build(text, chars, eq)

    set_name = (
        "通用规范汉字表 (2013), 8105 characters: every code point with a kTGH value"
        if args.set == "tgh"
        else "GB 2312, 6763 characters: every code point with a kGB0 value"
    )
    header = [
        "# wordgate split-character (拆字) table: CHAR<TAB>FIRST<TAB>SECOND<TAB>LAYOUT",
        "# LAYOUT: lr = ⿰ (FIRST left, SECOND right), tb = ⿱ (FIRST top, SECOND bottom),",
        "#   s = a surround (⿸⿺⿵⿹⿷⿶: FIRST the outer part, SECOND the inner one).",
        "#",
        "# Source: GitHub amake/cjk-decomp, commit %s, file cjk-decomp.txt" % commit,
        "#   (CJK Decomposition Data, compiled by Gavin Grover; the repository's",
        "#   LICENSE file is the Apache License 2.0 and its README offers the data under",
        "#   a choice of six licences; used here under SPDX Apache-2.0.)",
        "#   This file is a modified, filtered derivative of that data, not the original.",
        "# Character set: %s," % set_name,
        "#   from the Unihan database, Unicode %s (Unihan_OtherMappings.txt as shipped in" % (ucd_version or "?"),
        "#   Debian's unicode-data package, 15.0.0-1 when this was made), (c) 2022 Unicode, Inc.,",
        "#   SPDX Unicode-DFS-2016 (the Unicode data-files licence in force for 15.0; from 15.1",
        "#   on it is Unicode-3.0). Radical mapping from EquivalentUnifiedIdeograph.txt, same UCD.",
        "# Derivation (scripts/make-split-table.py): records of type `a` (-> lr) or `d`",
        "#   (-> tb), bare or /t (touching), and d/m (molded), or a bare surround (stl, sbl,",
        "#   st, str, sl, sb -> s), with exactly two constituents;",
        "#   /o, /s and a/m joins and all other configurations left out. Rows with cjk-decomp's",
        "#   numbered intermediate (unencoded) components dropped. CJK radicals mapped to",
        "#   unified ideographs by EquivalentUnifiedIdeograph.txt, except %s;" % ", ".join(
            "%s->%s" % kv for kv in CHAT_FORMS.items()),
        "#   strokes mapped %s, other strokes dropped." % ", ".join(
            "%s->%s" % kv for kv in STROKES.items()),
        "#   卄 on top of a tb row written 艹, at its bottom 廾. Corrected by hand after a cross-check: %s;" % ", ".join(
            "%s=%s+%s %s" % ((c,) + FIXES[c]) for c in FIXES),
        "#   left out by hand: %s." % "".join(sorted(DROPS)),
        "#   One decomposition per character (cjk-decomp has one). Sorted by code point.",
        "# Rows: %d of %d characters in the set." % (len(rows), len(chars)),
        "#",
    ]
    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8", newline="\n")
    with out:
        for line in header:
            out.write(line + "\n")
        for ch in sorted(rows, key=ord):
            first, second, layout = rows[ch]
            out.write("%s\t%s\t%s\t%s\n" % (ch, first, second, layout))
    for reason, n in sorted(drops.items(), key=lambda kv: -kv[1]):
        print("dropped %5d  %s" % (n, reason), file=sys.stderr)
    print("wrote %d rows" % len(rows), file=sys.stderr)


if __name__ == "__main__":
    main()
