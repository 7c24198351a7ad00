"""Files in chat: the upload template, bulk MAC uploads, the technician export, downloads.

Modules, each small enough to read whole:

- `csvfile`: the CSV files the bot writes (template, export, rejected rows), with
  spreadsheet-formula neutralization.
- `parse`: reading an uploaded file (encodings, separators, header aliases) into rows.
- `fetch`: downloading an attachment (host allow-list, size cap while streaming, timeout,
  no redirects to other hosts) and uploading to Teams' `uploadUrl`.
- `downloads`: short-lived, unguessable download links served under `PUBLIC_URL`.
- `delivery`: handing a file to the admin (Teams FileConsentCard, else a link card).
- `upload`: the upload flow, from a message's attachments to the per-row report.
- `flows`: `template`, `upload` help and `export` as chat flows.

This package imports nothing at package level, so `bot.runtime` can import
`bot.files.downloads` without a cycle.
"""
