"""Node.js tools the card tests run (the validator, the renderer check) and their installer."""
