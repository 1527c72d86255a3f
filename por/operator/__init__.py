"""The operator's side, shared by the producer packages (`por.snapshot`, `por.builder`,
`por.publish`, and `por.log` for signing heads): the exchange's signing key and key files
(`signing`), progress of long stages (`progress`), forked worker pools (`workers`) and the
fsync of files and directories by path (`fsync`).

Verifiers never import it: the verifier kernel sits at the top of `por` and needs no
private key, no worker and no durable write. This package imports nothing of ours but
`por.keys` (the key errors), so no producer package is imported by it.
"""
