"""File machinery for chat: the CSV files the bot writes, reading uploads, moving bytes,
download links and delivery. The commands and buttons that use it are in
`bot.features.files`.

- `csvfile`: the CSV files the bot writes (template, export, rejected rows), with
  spreadsheet-formula neutralization.
- `parse`: reading an uploaded file (encodings, separators, header aliases) into rows.
- `fetch`: downloading an attachment (host allow-list, size cap while streaming, timeout,
  no redirects to other hosts) and uploading to Teams' `uploadUrl`.
- `downloads`: short-lived, unguessable download links served under `PUBLIC_URL`.
- `delivery`: handing a file to the admin (Teams FileConsentCard, else a link card).
- `upload`: importing an uploaded file, from its URL to the per-row report.
"""
