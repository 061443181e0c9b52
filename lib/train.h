/*
 * train.h — LoRA training over a frozen Llama model: a forward pass in f32
 * that keeps its activations, the backward pass through it, and AdamW on
 * the adapter's tensors, with its learning-rate schedule, gradient
 * accumulation, clipping and checkpoints.
 *
 * Not for: the inference forward pass (model.c), the adapter file (lora.h),
 * turning records into training sequences (train_data.h).
 *
 * What is computed. For a sequence of tokens x_0..x_{T-1} (positions 0..T-1)
 * and the set of target positions t (those with target[t] set, t >= 1):
 *     loss = sum_t -log softmax(logits after x_0..x_{t-1})[x_t]
 * with the model of model.c (embedding, per layer RMSNorm, q/k/v with RoPE,
 * grouped-query causal attention, output projection, RMSNorm, SwiGLU
 * feed-forward, final RMSNorm, output head, tied or not) and every adapted
 * product y = x W^T + scale * (x A^T) B^T. Only A and B get gradients; the
 * base stays as it is in the file, in its own type: its forward products go
 * through the kernels (matmul.h) and the backward products dX = dY W
 * dequantize a block of rows at a time (train_ops.c), never the whole model.
 *
 * Determinism: for the same model, adapter, data and thread count every
 * step's result is the same bit for bit (tasks own disjoint outputs, every
 * sum runs in a fixed order).
 */
#ifndef LLP_TRAIN_H
#define LLP_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "gguf.h"
#include "lora.h"
#include "model.h"
#include "util.h"

enum llp_schedule { LLP_SCHED_COSINE = 0, LLP_SCHED_LINEAR = 1, LLP_SCHED_CONSTANT = 2 };

typedef struct llp_train_params {
    int n_ctx;              /* longest sequence (tokens) */
    int n_threads;          /* 0: physical cores */
    double lr;              /* peak learning rate */
    double weight_decay;    /* AdamW decoupled decay (per step: lr * wd * p) */
    double beta1, beta2, eps;   /* Adam moments; 0: 0.9, 0.999, 1e-8 */
    double clip;            /* clip the global gradient norm to this; 0: off */
    int warmup;             /* steps of linear warm-up from 0 to lr */
    int total_steps;        /* the schedule's length (cosine / linear decay to 0) */
    int schedule;           /* enum llp_schedule */
} llp_train_params;

typedef struct llp_trainer llp_trainer;

/* A trainer for adapter a (owned by the caller, updated in place) on model
 * m. The adapter must be checked against m and name only layer matrices.
 * Returns NULL with err. */
llp_trainer *llp_trainer_new(const llp_model *m, llp_lora *a, const llp_train_params *p,
                             llp_err *err);
void llp_trainer_free(llp_trainer *tr);

/* A at random (uniform in +-1/sqrt(n_in), like PEFT's Kaiming init), B at
 * zero, from seed. */
void llp_lora_init_random(llp_lora *a, uint64_t seed);

/* One sequence: forward, and when `backward`, the gradients of
 * weight * loss added to the trainer's accumulators. Returns the loss summed
 * over the sequence's targets (not weighted), or -1 with err (a token out of
 * range, a sequence longer than n_ctx). When logits is not NULL, the rows
 * of the target positions (in order, n_vocab each) are written to it. */
double llp_trainer_sequence(llp_trainer *tr, const int32_t *tokens, const uint8_t *target, int n,
                            double weight, bool backward, float *logits, llp_err *err);

void llp_trainer_zero_grad(llp_trainer *tr);
/* The gradient accumulators of adapter tensor i: (rank, n_in) and (n_out, rank). */
float *llp_trainer_grad_a(llp_trainer *tr, int i);
float *llp_trainer_grad_b(llp_trainer *tr, int i);
double llp_trainer_grad_norm(const llp_trainer *tr);

/* The learning rate of step s (0-based). */
double llp_trainer_lr(const llp_trainer *tr, int step);
/* Clip, then one AdamW update with the accumulated gradients; advances the
 * step count. Returns the learning rate used; *grad_norm gets the norm
 * before clipping (may be NULL). */
double llp_trainer_update(llp_trainer *tr, double *grad_norm);
int llp_trainer_step_count(const llp_trainer *tr);

/* Time spent so far, seconds: forward, backward, optimizer. */
void llp_trainer_times(const llp_trainer *tr, double *fwd, double *bwd, double *opt);

/* Checkpoints: the optimizer state (step, Adam moments) as keys and
 * tensors of a GGUF writer that also holds the adapter (lora.h), and back. */
void llp_trainer_save_state(const llp_trainer *tr, gguf_writer *w);
int llp_trainer_load_state(llp_trainer *tr, const gguf_file *f, llp_err *err);

#endif
