archive-signer/2.4
key-id: arch-ledger-2023
sealed-at: 2024-01-08T06:00:00Z
records: 48
head: 9d49c25edc160395ddc1f8aa72dce524ba8747506779193418082dcae67c9266
sha256: d4d126391b05e141595d8e26f10cc6651b9fa9360f5a8ce1e97c9daadca29408
signature: eP0dCrBEoubqoLwFRpnD40bi9rxJXYV1QkfcY94SmjU=
