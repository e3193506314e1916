# The official recipe (seam_resnet38d_1xb8-8e_voc12aug-448x448.py) run fast
# on a GPU: bf16 autocast (training and CAM inference), channels_last,
# torch.compile, 8 pinned data-loading workers. Needs a GPU.
_base_ = ['./seam_resnet38d_1xb8-8e_voc12aug-448x448.py']
model = dict(
    channels_last=True,
    compile_cfg=dict(dynamic=False),  # one static graph per view size
    test_cfg=dict(
        amp_dtype='bfloat16',
        # torch 2.11's Inductor fails this analysis on the dynamic graph
        compile_cfg=dict(
            options={'triton.coalesce_tiling_analysis': False})))
# bf16 keeps fp32's exponent range: no loss scaling
optim_wrapper = dict(
    type='NonFiniteGuardAmpOptimWrapper',
    dtype='bfloat16',
    loss_scale=dict(enabled=False))
train_dataloader = dict(num_workers=8, persistent_workers=True,
                        pin_memory=True)
val_dataloader = dict(pin_memory=True)
test_dataloader = val_dataloader
