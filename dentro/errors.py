class UserError(Exception):
    """An error in what the user asked for or gave (a missing file, a bad value).
    The CLI prints its message, which says what is wrong and what to do, without a traceback."""
