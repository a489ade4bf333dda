"""Filters, feature maps, projections and occlusion on tiny nets whose weights the test sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import cnnlib
from cnnlib import visualize
from cnnlib.weights import Preprocess


def vertical_edge_net() -> nn.Sequential:
    """conv 3x3 (a vertical edge detector) -> ReLU -> max pool 2 -> conv 3x3 (pass-through)
    -> ReLU: every unit responds to dark-to-bright vertical edges only."""
    net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1, bias=False), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(1, 1, 3, padding=1, bias=False), nn.ReLU())
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[-1.0, 0, 1]] * 3).view(1, 1, 3, 3))
        net[3].weight.zero_()
        net[3].weight[0, 0, 1, 1] = 1.0
    return net.eval()


def edge_image(column: int = 20, size: int = 32) -> torch.Tensor:
    x = torch.zeros(1, 1, size, size)
    x[..., column:] = 1.0
    return x


def test_filter_grid_tiles_and_per_tile_scaling() -> None:
    conv = nn.Conv2d(3, 4, 3)
    with torch.no_grad():
        ramp = torch.arange(27, dtype=torch.float32).view(3, 3, 3)
        for i, scale in enumerate((1e-3, 1.0, 10.0, -100.0)):
            conv.weight[i] = ramp * scale
    grid = visualize.filter_grid(nn.Sequential(conv), per_row=2)
    assert grid.image.shape == (2 * 4 + 1, 2 * 4 + 1, 3)  # 2x2 tiles of 3x3, 1-pixel borders
    assert (grid.count, grid.kernel, grid.channels) == (4, (3, 3), 3)
    for r in range(2):
        for c in range(2):
            tile = grid.image[1 + 4 * r:4 + 4 * r, 1 + 4 * c:4 + 4 * c]
            assert tile.min() == 0 and tile.max() == 255  # each scaled to its own range
    grey = visualize.filter_grid(cnnlib.build("lenet5"))
    assert grey.count == 6 and grey.channels == 1 and grey.kernel == (5, 5)
    assert (grey.image[..., 0] == grey.image[..., 1]).all()  # grey tiles for 1 channel


def test_strongest_activation_and_projection_land_on_the_edge() -> None:
    net, x = vertical_edge_net(), edge_image(column=20)
    maps = visualize.feature_maps(net, x, "0")
    assert maps.shape == (1, 32, 32)
    assert set(torch.nonzero(maps[0] == maps.max())[:, 1].tolist()) <= {19, 20}
    result = cnnlib.profile(net, "1x32x32")
    projection = visualize.project(net, x, "4", result)
    assert projection.position[1] in (9, 10)  # the edge at column 20, after the /2 pool
    _, left, _, right = projection.patch
    assert left <= 20 < right and right - left <= result.layers.iloc[4]["receptive_field"]
    strength = np.abs(projection.image.astype(float) - np.median(projection.image)).sum(axis=(0, 2))
    assert left <= int(strength.argmax()) < right


def test_occlusion_drops_the_class_most_over_the_informative_region() -> None:
    class CornerReader(nn.Module):
        """Class 0's logit is the brightness of the top-left 8x8 corner; class 1's is 1."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            corner = x[:, :, :8, :8].mean(dim=(1, 2, 3)) * 10
            return torch.stack([corner, torch.ones_like(corner)], dim=1)

    x = torch.zeros(1, 3, 32, 32)
    x[:, :, :8, :8] = 1.0
    calls: list[tuple[int, int]] = []
    result = visualize.occlusion(CornerReader(), x, window=8, stride=4, batch_size=5,
                                 progress=lambda done, total: calls.append((done, total)))
    assert result.target == 0 and result.baseline > 0.99
    assert result.probability.shape == (7, 7)
    assert np.unravel_index(result.probability.argmin(), result.probability.shape) == (0, 0)
    assert result.top_class[0, 0] == 1 and result.top_class[-1, -1] == 0
    assert calls[-1] == (49, 49) and len(calls) == 10
    frames = visualize.occlusion_frames(result, ["corner", "other"])
    assert frames.xs == frames.ys == [0, 4, 8, 12, 16, 20, 24]
    assert frames.class_names[0, 0] == "other" and frames.class_names[-1, -1] == "corner"
    assert frames.class_codes[0, 0] != frames.class_codes[-1, -1]
    assert visualize.class_index(visualize.class_name(1, None), None) == 1


def test_receptive_box_matches_the_gradient_support() -> None:
    """An independent oracle: the input pixels that can change output (y, x) of a conv/avg-pool
    net with positive weights are exactly its receptive field, clipped to the image."""
    net = nn.Sequential(nn.Conv2d(1, 2, 5, stride=2, padding=1), nn.AvgPool2d(3, stride=2),
                        nn.Conv2d(2, 1, 3, padding=2, dilation=2))
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Conv2d):
                m.weight.fill_(1.0)
    result = cnnlib.profile(net, "1x41x41")
    for y, x in [(0, 0), (3, 5), (8, 8), (4, 8)]:
        inp = torch.zeros(1, 1, 41, 41, requires_grad=True)
        net(inp)[0, 0, y, x].backward()
        rows, cols = torch.nonzero(inp.grad[0, 0]).unbind(1)
        expect = (int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1)
        assert result.receptive_box(2, y, x) == expect


def test_feature_maps_of_a_repeated_call_and_visual_layers() -> None:
    model = cnnlib.build("resnet18").eval()
    result = cnnlib.profile(model, "3x64x64")
    layers = dict(visualize.visual_layers(result, model))
    assert "layer1.0.relu#2" in layers and "fc" not in layers
    maps = visualize.feature_maps(model, torch.randn(1, 3, 64, 64), "layer1.0.relu#2")
    assert "x".join(map(str, maps.shape)) == layers["layer1.0.relu#2"]
    channels = visualize.output_channels(result)
    assert all(channels[n] == int(shape.split("x")[0]) for n, shape in layers.items())
    assert channels["layer1.0.relu#2"] == maps.shape[0] == 64 and channels["fc"] == 1000
    grid = visualize.activation_grid(maps, top_k=9)
    assert len(grid.channels) == 9 and list(grid.means) == sorted(grid.means, reverse=True)


def test_top_patches_rank_the_image_with_the_edge_first() -> None:
    net = vertical_edge_net()
    images = [torch.zeros(2, 1, 32, 32), torch.cat([torch.zeros(1, 1, 32, 32), edge_image(12)])]
    result = cnnlib.profile(net, "1x32x32")
    best = visualize.top_patches(net, images, "0", 0, result, k=2)
    assert best[0].index == 3 and best[0].activation == 3.0
    assert best[0].patch[1] <= 12 < best[0].patch[3]


def test_preprocess_steps_and_predictions() -> None:
    image = Image.new("RGB", (451, 300), (200, 120, 40))
    prep = Preprocess(resize=256, crop=224, mean=(0.485, 0.456, 0.406),
                      std=(0.229, 0.224, 0.225))
    seen = visualize.preprocess(image, prep)
    assert seen.tensor.shape == (1, 3, 224, 224)
    assert [d for d, _ in seen.steps] == ["input 451x300", "resize shorter side to 256: 384x256",
                                          "centre crop 224x224"]
    assert torch.allclose(seen.tensor[0, :, 100, 100],
                          (torch.tensor([200, 120, 40]) / 255 - torch.tensor(prep.mean))
                          / torch.tensor(prep.std), atol=1e-2)
    grey = visualize.preprocess(image, Preprocess(None, 32, (0.5,), (0.5,)))
    assert grey.tensor.shape == (1, 1, 32, 32)
    model = cnnlib.build("cifar_resnet20").eval()
    top = visualize.predict(model, torch.randn(1, 3, 32, 32), [f"c{i}" for i in range(10)])
    probs = [p for _, p in top]
    assert len(top) == 5 and probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6


def test_bad_layer_and_channel() -> None:
    net = vertical_edge_net()
    result = cnnlib.profile(net, "1x32x32")
    with pytest.raises(cnnlib.errors.CnnlibError, match="no layer 'nope'"):
        visualize.feature_maps(net, edge_image(), "nope")
    with pytest.raises(cnnlib.errors.CnnlibError, match="has 1 channels; 5 is not one"):
        visualize.project(net, edge_image(), "4", result, channel=5)
