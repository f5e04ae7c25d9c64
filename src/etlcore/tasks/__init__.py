"""Tasks in the ModelArts shape, kept in a SQLite task store."""
