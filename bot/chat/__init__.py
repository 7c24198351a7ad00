"""Chat, channel-neutral: the turn features answer through, the declarations of every
interaction, the gate every interaction passes, and the dispatcher that routes a turn.

- `turn`: `ChatTurn` (who, where, how to answer) and what a message can carry.
- `interactions`: `@command`, `@card_action`, `@receives_files`, `@answers_file_consent`,
  the `Feature` base, the static `Menu` and the bound `Interactions`.
- `gate`: tenant, admin and one-to-one checks; refusals become answers.
- `dispatch`: text, card submits, files and consent answers to their interaction.
- `submission`: reading a card submit's fields like typed input.
- `single_use`: cards that may be answered once (forms, confirmations, sign-in).
- `markdown`: showing text from outside literally.
"""
