"""Documents people read, sign, post and file: texts built from the method's data, and their
PDFs. Imports no Flask: the web layer and the command line call these functions."""
