"""ember.compile beyond the conformance suite: what state a replay updates, the
structure of results, resets, the errors a user meets, graphs with random draws."""

import numpy as np
import pytest

import ember


def test_a_replay_updates_rebound_tensors_and_gradients_left_on_parameters():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    seen = ember.zeros(2)

    @ember.compile
    def step(x):
        loss = (w * x).sum()
        w.grad = None
        loss.backward()
        seen.__iadd__(x)                 # an in-place update: the tensor is rebound
        return {"loss": loss, "twice": [loss * 2]}
    for k in range(5):
        out = step(ember.tensor([float(k), 1.0]))
    assert step.graph(ember.zeros(2)) is not None
    assert out["loss"].item() == 4.0 + 2.0 and out["twice"][0].item() == 12.0
    np.testing.assert_array_equal(w.grad.numpy(), [4.0, 1.0])    # the last call's gradient
    np.testing.assert_array_equal(seen.numpy(), [0 + 1 + 2 + 3 + 4, 5.0])
    assert not out["loss"].requires_grad


def test_reset_traces_again_after_a_change_the_graph_cannot_see():
    scale = [2.0]
    f = ember.compile(lambda x: x * scale[0])
    x = ember.ones(3)
    for _ in range(3):
        f(x)
    scale[0] = 5.0
    assert f(x).tolist() == [2.0, 2.0, 2.0]     # frozen at trace time, as documented
    f.reset()
    assert f(x).tolist() == [5.0, 5.0, 5.0]


def test_state_replaced_by_new_tensors_each_call_is_a_clear_error():
    state = {"m": ember.zeros(2)}

    def f(x):
        state["m"] = state["m"] * 0.5 + x        # a new tensor object every call
        return state["m"]
    with pytest.raises(ember.CompileError, match="different objects"):
        g = ember.compile(f)
        for _ in range(6):
            g(ember.ones(2))


def test_dropout_draws_new_masks_on_each_replay_as_eager_does():
    from ember.plugins import nn
    layer = nn.Dropout(0.5)
    x = ember.ones(64)
    ember.manual_seed(3)
    eager = [layer(x).numpy() for _ in range(5)]
    ember.manual_seed(3)
    f = ember.compile(layer)
    compiled = [f(x).numpy() for _ in range(5)]
    for a, b in zip(eager, compiled):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(compiled[3], compiled[4])
    graph = f.graph(x)
    assert "random(" in repr(graph)
    again = ember.Graph.from_bytes(graph.to_bytes())
    assert again.count() == graph.count()


def test_a_loaded_graph_cannot_name_anything_but_a_primitive():
    import msgpack
    f = ember.compile(lambda x: x + 1)
    x = ember.ones(2)
    f(x), f(x)
    doc = msgpack.unpackb(f.graph(x).to_bytes(), raw=False, strict_map_key=False)
    doc["nodes"][0][0] = "__class__"
    evil = ember.Graph.from_bytes(msgpack.packb(doc, use_bin_type=True))
    backend = ember.get_backend("numpy")
    with pytest.raises(ember.BackendError, match="'__class__' is not a backend primitive"):
        evil.run(backend, [backend.from_numpy(np.ones(2, np.float32))])


def test_two_dropouts_of_one_shape_draw_two_masks():
    from ember.plugins import nn
    first, second = nn.Dropout(0.5), nn.Dropout(0.5)
    f = ember.compile(lambda x: (first(x), second(x)))
    x = ember.ones(256)
    for _ in range(3):
        a, b = f(x)
    assert f.graph(x).count()["random"] == 2
    assert not np.array_equal(a.numpy(), b.numpy())
