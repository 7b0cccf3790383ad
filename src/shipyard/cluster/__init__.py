"""Workers on a Ray cluster (`[cluster] engine = "ray"`): the node side, the actor, the head-side runner.

Nothing here is imported unless the configuration asks for Ray; `ray` itself is an optional extra.
"""
