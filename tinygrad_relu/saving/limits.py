"""What a model file may declare: the caps that loading checks before it allocates anything.

A file is refused with a ModelFileError as soon as it claims more than one of these, so a small
hostile file cannot make the loader spend much time or memory; ``save`` refuses a model whose
file would break one (whichever it reaches first: for large models, usually the JSON bytes of
the weight manifest, about 150 bytes per weight), so every file it writes loads again.

Why these numbers: the largest models this package is meant for have a few hundred layers; a
stack of 50,000 layers already takes seconds to build. Every weight and every optimizer slot is
one zip member, so MAX_MEMBERS bounds both. Parsing JSON costs up to about 80 bytes of Python
objects per value, so MAX_JSON_VALUES bounds a JSON member's parsed size near 160 MB whatever its
bytes hold; MAX_JSON_DEPTH is several times what a config nests (model, layers, layer, config,
initializer, config).

The sizes of arrays are not capped here: each must have exactly the shape and dtype the model
built from the file's config gives it, and a member may inflate to no more than that array.
"""

MAX_LAYERS = 50_000                    # entries of the model config's "layers" list
MAX_MEMBERS = 200_000                  # zip members: JSON, weights and optimizer slots together
MAX_CENTRAL_DIRECTORY_BYTES = MAX_MEMBERS * 128   # the zip's table of members, read before the members
MAX_JSON_BYTES = 16 * 1024 * 1024      # one JSON member, inflated
MAX_JSON_VALUES = 2_000_000            # values (numbers, strings, lists, objects ...) in one JSON member
MAX_JSON_DEPTH = 32                    # nesting of lists and objects in one JSON member
NPY_HEADER_ALLOWANCE = 64 * 1024       # an .npy header is far smaller; anything bigger is not ours
