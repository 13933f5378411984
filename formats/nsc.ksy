meta:
  id: nsc
  title: nsc neural speech codec container, format 1.x
  file-extension: nsc
  endian: be
  license: MIT
doc: |
  An `.nsc` file: a header (8-byte preamble, body, CRC-32) followed by
  ceil(n_frames / frames_per_packet) packets of bit-packed codebook indices,
  each `u2 length | payload | u4 crc32`. The number of frames is derived from
  the header (see `header_body.n_frames`), never stored.

  Not expressible here, but required of readers (see the normative spec):
  the header CRC-32 and every packet CRC-32 are checked (CRC-32/ISO-HDLC, as
  zlib.crc32); each packet's `length` must equal
  ceil(frames_in_packet * sum(bits) / 8); nothing may follow the last packet;
  a reader of major version 1 rejects any other major version before parsing
  anything past the preamble. The payload bits are indices of bits[q] bits
  each, frame-major, MSB-first, zero-padded to a byte per packet.

  Kaitai's `u8` arithmetic in `codec_length` overflows for inputs longer than
  about 2**64 / sample_rate samples (over 70 000 years at 8 kHz).
doc-ref: formats/nsc-container-v1.md
seq:
  - id: header
    type: header
  - id: packets
    type: packet
    repeat: expr
    repeat-expr: header.body.n_packets
types:
  header:
    seq:
      - id: magic
        contents: [0x4e, 0x53, 0x43, 0x46]  # "NSCF"
      - id: version_major
        type: u1
        valid: 1
        doc: Format major version; readers reject any major they do not know.
      - id: version_minor
        type: u1
        doc: Format minor version; any value is accepted, newer minors append body fields.
      - id: header_size
        type: u2
        doc: Total header bytes, preamble and CRC included (52 + n_codebooks in 1.0).
      - id: body
        type: header_body
        size: header_size - 12
      - id: header_crc
        type: u4
        doc: CRC-32 of header bytes 0 .. header_size - 5 (everything before this field).
  header_body:
    seq:
      - id: codec_id
        type: u2
        doc: Codec wire id from the nsc registry.
      - id: payload_kind
        type: u1
        valid: 0
        doc: 0 = bit-packed VQ indices; other values reserved (rejected by 1.x readers).
      - id: n_codebooks
        type: u1
        doc: Number of codebooks used, Q (1..255).
      - id: fingerprint
        size: 8
        doc: Fingerprint of the weights that produced the indices.
      - id: sample_rate
        type: u4
        doc: Codec sample rate, Hz.
      - id: input_sample_rate
        type: u4
        doc: Sample rate of the original input, Hz.
      - id: input_channels
        type: u2
        doc: Channel count of the original input.
      - id: frames_per_packet
        type: u2
        doc: Frames per packet (the last packet may hold fewer).
      - id: hop_length
        type: u4
        doc: Codec samples per frame; frame rate = sample_rate / hop_length.
      - id: bitrate_bps
        type: u4
        doc: Nominal bitrate, bit/s (informative).
      - id: n_samples
        type: u8
        doc: Exact length of the original input, samples per channel at input_sample_rate.
      - id: bits
        type: u1
        repeat: expr
        repeat-expr: n_codebooks
        doc: Bits per index of each codebook (1..16), in transmission order.
      - id: extension
        size-eos: true
        doc: Fields added by newer minor versions; empty in 1.0, skipped by 1.0 readers.
    instances:
      codec_length:
        value: (n_samples * sample_rate + input_sample_rate / 2) / input_sample_rate
        doc: Input length at the codec sample rate, rounded half up (integer division).
      n_frames_ceil:
        value: (codec_length + hop_length - 1) / hop_length
      n_frames:
        value: 'n_frames_ceil < 1 ? 1 : n_frames_ceil'
        doc: Number of frames, max(1, ceil(codec_length / hop_length)).
      n_packets:
        value: (n_frames + frames_per_packet - 1) / frames_per_packet
  packet:
    seq:
      - id: length
        type: u2
        doc: Payload bytes; must equal ceil(frames_in_packet * sum(bits) / 8).
      - id: payload
        size: length
        doc: The packet's indices, bits[q] bits each, frame-major, MSB-first, zero-padded.
      - id: packet_crc
        type: u4
        doc: CRC-32 of the length field and the payload.
