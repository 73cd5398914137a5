"""medialib's interfaces: the command line now, the web apps next.

They parse input, call a flow or a library function, and render the result; the library
and the flows never import them.
"""
