#!/usr/bin/env python3
"""Marks libLibTorchSharp.so's GLIBCXX_3.4.32 version requirement weak (VER_FLG_WEAK), in place.

TorchSharp-cpu 0.107's native library asks for GLIBCXX_3.4.32, which Debian 12's libstdc++ (up to
3.4.30) lacks; the only symbol it wants from that version is std::ios_base_library_init(), which
nothing calls. A weak requirement lets the dynamic linker load it anyway. Run on the copy in this
peer's bin/ (the .csproj does after each build), never on the NuGet cache.
Usage: patch_glibcxx.py path/to/libLibTorchSharp.so
"""
import struct
import sys

VERSION = b"GLIBCXX_3.4.32"
SHT_GNU_VERNEED = 0x6FFFFFFE
VER_FLG_WEAK = 0x2


def main(path):
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            sys.exit(f"{path}: not a 64-bit little-endian ELF file")
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
        sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
        changed = 0
        for _, kind, _, _, offset, _, link, info, _, _ in sections:
            if kind != SHT_GNU_VERNEED:
                continue
            strtab = sections[link][4]
            entry = offset
            for _ in range(info):
                _, count, _, aux, next_entry = struct.unpack_from("<HHIII", data, entry)
                at = entry + aux
                for _ in range(count):
                    _, flags, _, name, next_aux = struct.unpack_from("<IHHII", data, at)
                    end = data.index(b"\0", strtab + name)
                    if bytes(data[strtab + name:end]) == VERSION and not flags & VER_FLG_WEAK:
                        struct.pack_into("<H", data, at + 4, flags | VER_FLG_WEAK)
                        changed += 1
                    at += next_aux
                entry += next_entry
        if changed:
            f.seek(0)
            f.write(data)
        print(f"{path}: {VERSION.decode()} requirement {'marked weak' if changed else 'already weak or absent'}")


if __name__ == "__main__":
    main(sys.argv[1])
