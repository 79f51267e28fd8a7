"""Signed notes and checkpoints: the C2SP formats, byte for byte, and every way to reject one."""

from __future__ import annotations

import hashlib

import pytest

from application.transparency.note import (
    Checkpoint,
    InvalidSignatureError,
    MalformedCheckpointError,
    MalformedKeyError,
    MalformedNoteError,
    NotSignedByKeyError,
    Signer,
    Verifier,
    WrongOriginError,
    generate_signer,
    key_id,
    open_checkpoint,
    open_note,
    sign_checkpoint,
    sign_note,
)

# The test key and note of golang.org/x/mod/sumdb/note (note_test.go): Ed25519 is deterministic,
# so signing the same text with the same key must give the same bytes.
GO_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZ"
    "SNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)

# A checkpoint published by the Go checksum database, with its well-known verifier key.
SUMDB_VERIFIER_KEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_NOTE = (
    "go.sum database tree\n65209736\n5+uGFjx6xBZG8ip1+wi77v+grwbhhukIrxEUS8PXvRo=\n\n"
    "\u2014 sum.golang.org Az3grnbssgK7ubgFX36gVETtNv0U23qxyAhAMai2QUfeGa3nB/akvkMdlUErfcZz7l/R3c"
    "VtYspg3dxXABkGZZKdsQ8=\n"
)

ORIGIN = "ledger.example/000.00.00.H56"
ROOT = hashlib.sha256(b"root").digest()


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.from_key(generate_signer(ORIGIN))


def test_signing_the_go_test_vector_gives_the_go_note_byte_for_byte() -> None:
    signer = Signer.from_key(GO_SIGNER_KEY)
    assert signer.verifier().vkey() == GO_VERIFIER_KEY
    assert sign_note(GO_TEXT, signer) == GO_NOTE
    assert open_note(GO_NOTE, Verifier.from_vkey(GO_VERIFIER_KEY)) == GO_TEXT


def test_a_checkpoint_signed_by_the_go_checksum_database_opens_and_parses() -> None:
    text = open_note(SUMDB_NOTE.encode(), Verifier.from_vkey(SUMDB_VERIFIER_KEY))
    checkpoint = Checkpoint.parse(text)
    assert checkpoint.origin == "go.sum database tree"
    assert checkpoint.tree_size == 65209736
    assert checkpoint.body() == text


def test_the_key_id_is_the_start_of_sha256_of_name_newline_type_and_public_key() -> None:
    verifier = Verifier.from_vkey(GO_VERIFIER_KEY)
    public = verifier.public_key.public_bytes_raw()
    digest = hashlib.sha256(b"PeterNeumann\n\x01" + public).digest()
    assert key_id("PeterNeumann", public) == int.from_bytes(digest[:4], "big") == 0xC74F20A3


def test_a_checkpoint_round_trips_through_its_signed_note(signer: Signer) -> None:
    checkpoint = Checkpoint(ORIGIN, 42, ROOT)
    note = sign_checkpoint(signer, checkpoint)
    assert note.startswith(f"{ORIGIN}\n42\n")
    assert note.split("\n")[4].startswith(f"\u2014 {ORIGIN} ")
    assert open_checkpoint(note, signer.verifier()) == checkpoint
    assert open_checkpoint(note, Verifier.from_vkey(signer.verifier().vkey())) == checkpoint


def test_the_empty_tree_has_a_checkpoint(signer: Signer) -> None:
    empty = Checkpoint(ORIGIN, 0, hashlib.sha256(b"").digest())
    assert open_checkpoint(sign_checkpoint(signer, empty), signer.verifier()) == empty


def test_a_note_from_another_key_is_refused_naming_both_keys(signer: Signer) -> None:
    other = Signer.from_key(generate_signer("another.example/log"))
    note = sign_note(Checkpoint(ORIGIN, 1, ROOT).body(), other)
    with pytest.raises(NotSignedByKeyError, match=r"another\.example/log\+.*another log"):
        open_checkpoint(note, signer.verifier())


def test_a_note_from_another_key_with_the_same_name_is_refused(signer: Signer) -> None:
    impostor = Signer.from_key(generate_signer(ORIGIN))
    note = sign_checkpoint(impostor, Checkpoint(ORIGIN, 1, ROOT))
    with pytest.raises(NotSignedByKeyError, match="another key of the same name"):
        open_checkpoint(note, signer.verifier())


@pytest.mark.parametrize(
    ("original", "altered"),
    [("\n42\n", "\n43\n"), (f"{ORIGIN}\n", f"{ORIGIN}x\n")],
)
def test_an_altered_body_breaks_the_signature(signer: Signer, original: str, altered: str) -> None:
    note = sign_checkpoint(signer, Checkpoint(ORIGIN, 42, ROOT))
    with pytest.raises(InvalidSignatureError, match="text was changed"):
        open_checkpoint(note.replace(original, altered, 1), signer.verifier())


def test_an_altered_root_breaks_the_signature(signer: Signer) -> None:
    note = sign_checkpoint(signer, Checkpoint(ORIGIN, 42, ROOT))
    other_root = Checkpoint(ORIGIN, 42, hashlib.sha256(b"other").digest()).body().split("\n")[2]
    altered = note.replace(note.split("\n")[2], other_root)
    with pytest.raises(InvalidSignatureError):
        open_checkpoint(altered, signer.verifier())


def test_signatures_by_unknown_keys_are_ignored(signer: Signer) -> None:
    witness = Signer.from_key(generate_signer("witness.example"))
    note = sign_checkpoint(signer, Checkpoint(ORIGIN, 7, ROOT))
    cosigned = note + witness.signature_line(Checkpoint(ORIGIN, 7, ROOT).body())
    assert open_checkpoint(cosigned, signer.verifier()).tree_size == 7


def test_a_checkpoint_of_another_log_is_refused_even_when_well_signed() -> None:
    with pytest.raises(WrongOriginError, match=r"go\.sum database tree"):
        open_checkpoint(SUMDB_NOTE, Verifier.from_vkey(SUMDB_VERIFIER_KEY))


def test_a_key_signs_only_its_own_log(signer: Signer) -> None:
    with pytest.raises(WrongOriginError):
        sign_checkpoint(signer, Checkpoint("elsewhere.example", 1, ROOT))


@pytest.mark.parametrize(
    ("note", "reason"),
    [
        ("no signature block\n", "blank line"),
        (GO_TEXT + "\n- PeterNeumann abcd\n", "em dash"),
        (GO_TEXT + "\n\u2014 PeterNeumann\n", "key name"),
        (GO_TEXT + "\n\u2014 PeterNeumann not*base64\n", "base64"),
        (GO_TEXT + "\n\u2014 PeterNeumann AAAA\n", "too short"),
        (GO_NOTE.rstrip("\n"), "each ending in a newline"),
        (GO_NOTE.replace("\n", "\r\n"), "line endings"),
        (GO_TEXT + "\n" + "\u2014 a AAAAAAA=\n" * 101, "at most 100"),
    ],
)
def test_malformed_notes_are_refused_saying_why(note: str, reason: str) -> None:
    with pytest.raises(MalformedNoteError, match=reason):
        open_note(note, Verifier.from_vkey(GO_VERIFIER_KEY))


def test_a_note_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(MalformedNoteError, match="UTF-8"):
        open_note(GO_NOTE.encode() + b"\xff", Verifier.from_vkey(GO_VERIFIER_KEY))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"{ORIGIN}\n42\n", "origin, a size and a root"),
        (f"{ORIGIN}\n042\n{Checkpoint(ORIGIN, 1, ROOT).body().split()[2]}\n", "plain number"),
        (f"{ORIGIN}\n-1\nAAAA\n", "plain number"),
        (f"{ORIGIN}\n1\nAAAA\n", "32 bytes"),
        (f"{ORIGIN}\n1\n{Checkpoint(ORIGIN, 1, ROOT).body().split()[2]}", "ends with a newline"),
    ],
)
def test_malformed_checkpoints_are_refused_saying_why(text: str, reason: str) -> None:
    with pytest.raises(MalformedCheckpointError, match=reason):
        Checkpoint.parse(text)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("PeterNeumann+c74f20a3", "<name>\\+<key id>"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key name"),
        ("PeterNeumann+0xf20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hexadecimal"),
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "not the id"),
        ("PeterNeumann+c74f20a3+AhpjZHJc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy", "Ed25519"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwx", "base64"),
    ],
)
def test_malformed_verifier_keys_are_refused_saying_why(key: str, reason: str) -> None:
    with pytest.raises(MalformedKeyError, match=reason):
        Verifier.from_vkey(key)


def test_a_signer_key_whose_id_does_not_match_is_refused() -> None:
    with pytest.raises(MalformedKeyError, match="not the id"):
        Signer.from_key(GO_SIGNER_KEY.replace("c74f20a3", "c74f20a4"))
    with pytest.raises(MalformedKeyError, match="PRIVATE"):
        Signer.from_key(GO_VERIFIER_KEY)


def test_generated_keys_name_their_log_and_round_trip() -> None:
    text = generate_signer(ORIGIN)
    assert text.startswith(f"PRIVATE+KEY+{ORIGIN}+")
    signer = Signer.from_key(text + "\n")
    assert Verifier.from_vkey(signer.verifier().vkey() + "\n") == signer.verifier()
    with pytest.raises(MalformedKeyError):
        generate_signer("has space")
