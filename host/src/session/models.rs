//! Models by id: creation, copies, alignment, blends, perturbation, masks, files.

use std::path::Path;

use coevo_sdk::ffi::ModelId;
use coevo_sdk::{Coefficients, FeatureSource, Noise, Task};
use serde_json::{Value, json};

use super::ServiceError;
use super::state::{Result, Session};
use crate::checkpoint;
use crate::data::Targets;
use crate::model::{Init, Model, ModelSpec, Trunk, preset, widen};
use crate::params::{self, NoiseMode};
use crate::train::loss;

impl Session {
    /// The model with id `id`.
    pub fn model(&self, id: ModelId) -> Result<&Model> {
        self.models
            .get(&id)
            .ok_or_else(|| ServiceError::not_found(format!("no model {id}")))
    }

    pub(super) fn model_mut(&mut self, id: ModelId) -> Result<&mut Model> {
        self.models
            .get_mut(&id)
            .ok_or_else(|| ServiceError::not_found(format!("no model {id}")))
    }

    /// The models `ids`, copied (for a stack or a blend).
    pub(super) fn cloned_models(&self, ids: &[ModelId]) -> Result<Vec<Model>> {
        ids.iter().map(|&id| self.model(id).cloned()).collect()
    }

    /// `models` (those of `ids`) reading `source`'s trunk in their join layer; without a
    /// source, a check that none of them has a join layer that would go unfed.
    pub(super) fn lend_features(
        &self,
        ids: &[ModelId],
        models: Vec<Model>,
        source: Option<FeatureSource>,
    ) -> Result<Vec<Model>> {
        let Some(source) = source else {
            if let Some((id, _)) = ids
                .iter()
                .zip(&models)
                .find(|(_, m)| m.layout().join_features().is_some())
            {
                return Err(ServiceError::invalid(format!(
                    "model {id} has a join layer: name the partner that feeds it with \
                     features_from"
                )));
            }
            return Ok(models);
        };
        if ids.contains(&source.model) {
            return Err(ServiceError::invalid(format!(
                "features_from: model {} cannot feed itself or a stack it is in",
                source.model
            )));
        }
        let trunk = Trunk::of(self.model(source.model)?, source.layers)
            .map_err(|e| ServiceError::invalid(e.to_string()))?;
        ids.iter()
            .zip(models)
            .map(|(id, m)| {
                m.joined_with(trunk.clone())
                    .map_err(|e| ServiceError::invalid(format!("model {id}: {e}")))
            })
            .collect()
    }

    /// Registers `model` under a new id. Ids only grow, so an id names one model for the run.
    pub fn insert_model(&mut self, model: Model) -> ModelId {
        let id = self.next_id;
        self.next_id += 1;
        self.models.insert(id, model);
        id
    }

    /// Puts `model` under an existing id (restoring a checkpoint), keeping ids unique.
    pub fn insert_model_as(&mut self, id: ModelId, model: Model) {
        self.next_id = self.next_id.max(id + 1);
        self.models.insert(id, model);
    }

    /// The id the next model will get.
    pub fn next_id(&self) -> ModelId {
        self.next_id
    }

    /// Drops the models with ids from `first` on and hands out ids from `first` again: what a
    /// plugin's `create` made before a `restore` replaced its state, models no one else saw.
    pub fn forget_models_from(&mut self, first: ModelId) {
        self.models.retain(|&id, _| id < first);
        self.optimizers.drop_members(|id| id >= first);
        self.next_id = first;
    }

    /// Every live model.
    pub fn models(&self) -> impl Iterator<Item = (ModelId, &Model)> {
        self.models.iter().map(|(&id, m)| (id, m))
    }

    /// Ids of the live models.
    pub fn model_ids(&self) -> Vec<ModelId> {
        self.models.keys().copied().collect()
    }

    /// A spec from JSON: a model spec, or `{"preset": name}` sized for the data (with an
    /// optional `"init"` replacing the preset's initialisation).
    pub fn spec_from_json(&self, json: &Value) -> Result<ModelSpec> {
        let data = self.data()?;
        let mut spec = match json.get("preset").and_then(Value::as_str) {
            Some(name) => {
                let outputs = match data.task {
                    Task::Classification { classes } => classes,
                    Task::Regression => 1,
                };
                let mut spec = preset(name, &data.train.sample_shape, outputs)
                    .map_err(|e| ServiceError::invalid(e.to_string()))?;
                // A preset with another initialisation (co-learning's LeNet-5 uses Xavier's).
                if let Some(init) = spec_init(json)? {
                    spec.init = init;
                }
                match json.get("width") {
                    None => spec,
                    Some(width) => {
                        let width = width.as_f64().ok_or_else(|| {
                            ServiceError::invalid(format!(
                                "model spec: width: {width} is not a number"
                            ))
                        })?;
                        widen(&spec, width).map_err(|e| ServiceError::invalid(e.to_string()))?
                    }
                }
            }
            None => serde_json::from_value(json.clone())
                .map_err(|e| ServiceError::invalid(format!("model spec: {e}")))?,
        };
        self.fit_to_targets(&mut spec)?;
        Ok(spec)
    }

    /// Gives a regression head the scale of the training targets it learns standardised.
    fn fit_to_targets(&self, spec: &mut ModelSpec) -> Result<()> {
        if let (Targets::Values(values), None) =
            (&self.data()?.train.host_targets, spec.target_scale)
        {
            spec.target_scale = Some(loss::target_scale(values));
        }
        Ok(())
    }

    /// A new model from a spec (see [`Session::spec_from_json`]), initialised from `seed`.
    pub fn create_model(&mut self, spec: &Value, seed: u64) -> Result<ModelId> {
        let spec = self.spec_from_json(spec)?;
        self.create_from_spec(spec, seed)
    }

    /// A new model from a parsed spec, initialised from `seed`.
    pub fn create_from_spec(&mut self, mut spec: ModelSpec, seed: u64) -> Result<ModelId> {
        self.fit_to_targets(&mut spec)?;
        let model = Model::new(spec, &self.device, seed)
            .map_err(|e| ServiceError::invalid(e.to_string()))?;
        Ok(self.insert_model(model))
    }

    /// A copy of model `id` under a new id (its optimiser state is not copied).
    pub fn clone_model(&mut self, id: ModelId) -> Result<ModelId> {
        let copy = self.model(id)?.clone();
        Ok(self.insert_model(copy))
    }

    /// `count` children of `id` that carry on its training: each gets its parameters and,
    /// when `id` last trained on its own, its optimiser state, so a child's next training call
    /// continues the parent's as if it were the parent (Frankle et al.'s spawning). What makes
    /// the children differ is their own training: another `seed` gives another data order and
    /// other augmentations.
    pub fn spawn(&mut self, id: ModelId, count: usize) -> Result<Vec<ModelId>> {
        let state = self.optimizers.get(&[id]).cloned();
        (0..count)
            .map(|_| {
                let child = self.clone_model(id)?;
                if let Some(state) = &state {
                    self.optimizers.insert(vec![child], state.clone());
                }
                Ok(child)
            })
            .collect()
    }

    /// A new model: `model` reordered to match `reference` (see [`params::align`]).
    pub fn align(&mut self, reference: ModelId, model: ModelId, seed: u64) -> Result<ModelId> {
        let aligned = params::align(self.model(reference)?, self.model(model)?, seed)
            .map_err(|e| ServiceError::invalid(e.to_string()))?;
        Ok(self.insert_model(aligned))
    }

    /// A new model: `id` without its dead units, physically smaller and computing the same
    /// outputs (see [`params::compact`]). Its optimiser state starts afresh, as a clone's does.
    pub fn compact(&mut self, id: ModelId) -> Result<ModelId> {
        let compacted =
            params::compact(self.model(id)?).map_err(|e| ServiceError::invalid(e.to_string()))?;
        Ok(self.insert_model(compacted.model))
    }

    /// Frees model `id` and every optimiser state it trained under.
    pub fn free_model(&mut self, id: ModelId) -> Result<()> {
        self.models
            .remove(&id)
            .ok_or_else(|| ServiceError::not_found(format!("no model {id}")))?;
        self.optimizers.drop_members(|member| member == id);
        Ok(())
    }

    /// What a plugin may know of a model: its spec, size, layers, parameter tensors and the
    /// output units (clusters) of its convolutions and linear layers.
    pub fn model_spec(&self, id: ModelId) -> Result<Value> {
        let model = self.model(id)?;
        Ok(json!({
            "spec": model.spec(),
            "params": model.param_count(),
            "layers": model.layout().layers,
            "tensors": model.param_slots(),
            "units": params::unit_layers(model.layout()),
        }))
    }

    /// Replaces model `id`'s parameters with the flat vector `values`.
    pub fn write_params(&mut self, id: ModelId, values: &[f32]) -> Result<()> {
        self.model_mut(id)?
            .set_flat_params(values)
            .map_err(|e| ServiceError::invalid(e.to_string()))
    }

    /// A new model blending `ids` (see [`params::blend`]); per-layer and per-element
    /// coefficients come model-major, one equal share of the vector per model.
    pub fn blend(&mut self, ids: &[ModelId], coefficients: Coefficients) -> Result<ModelId> {
        let models = ids
            .iter()
            .map(|&id| self.model(id))
            .collect::<Result<Vec<&Model>>>()?;
        let per_model = |flat: Vec<f32>| -> Result<Vec<Vec<f32>>> {
            if ids.is_empty() || !flat.len().is_multiple_of(ids.len()) {
                return Err(ServiceError::invalid(format!(
                    "blend: {} coefficients do not divide among {} models",
                    flat.len(),
                    ids.len()
                )));
            }
            Ok(flat
                .chunks(flat.len() / ids.len())
                .map(<[f32]>::to_vec)
                .collect())
        };
        let coefficients = match coefficients {
            Coefficients::Whole(c) if c.len() != ids.len() => {
                return Err(ServiceError::invalid(format!(
                    "blend: {} models but {} coefficients",
                    ids.len(),
                    c.len()
                )));
            }
            Coefficients::Whole(c) => params::Coefficients::Whole(c),
            Coefficients::PerLayer(c) => params::Coefficients::PerLayer(per_model(c)?),
            Coefficients::PerElement(c) => params::Coefficients::PerElement(per_model(c)?),
        };
        let blended = params::blend(&models, &coefficients)
            .map_err(|e| ServiceError::invalid(e.to_string()))?;
        Ok(self.insert_model(blended))
    }

    /// Copies into model `to` every tensor of model `from` whose name and shape match (see
    /// [`params::transfer`]); `to`'s optimiser state is kept, as a partner's would be.
    pub fn transfer(&mut self, from: ModelId, to: ModelId) -> Result<params::Transfer> {
        let source = self.model(from)?.clone();
        params::transfer(&source, self.model_mut(to)?)
            .map_err(|e| ServiceError::invalid(e.to_string()))
    }

    /// Perturbs model `id` in place with Gaussian noise.
    pub fn add_noise(&mut self, id: ModelId, noise: Noise) -> Result<()> {
        if !(noise.sigma >= 0.0 && (0.0..=1.0).contains(&noise.probability)) {
            return Err(ServiceError::invalid(format!(
                "noise: sigma must be ≥ 0 and probability in [0, 1], found {} and {}",
                noise.sigma, noise.probability
            )));
        }
        let noise = params::Noise {
            sigma: noise.sigma,
            probability: noise.probability,
            mode: match noise.per_tensor {
                true => NoiseMode::PerTensor,
                false => NoiseMode::PerElement,
            },
            seed: noise.seed,
        };
        self.model_mut(id)?.add_noise(&noise);
        Ok(())
    }

    /// Sets (or with `None` clears) model `id`'s mask, kept through training and checkpoints.
    pub fn set_mask(&mut self, id: ModelId, mask: Option<&[f32]>) -> Result<()> {
        let model = self.model_mut(id)?;
        match mask {
            Some(mask) => model
                .set_flat_mask(mask)
                .map_err(|e| ServiceError::invalid(e.to_string())),
            None => {
                model.clear_masks();
                Ok(())
            }
        }
    }

    /// Writes model `id` to `path` (safetensors or burnpack, by extension).
    pub fn save_model(&self, id: ModelId, path: &Path) -> Result<()> {
        checkpoint::save(self.model(id)?, path).map_err(|e| ServiceError::failed(e.to_string()))
    }

    /// Loads a model from `path` under a new id.
    pub fn load_model(&mut self, path: &Path) -> Result<ModelId> {
        let model = checkpoint::load(path, &self.device)
            .map_err(|e| ServiceError::failed(e.to_string()))?;
        Ok(self.insert_model(model))
    }
}

/// The `init` of a `{"preset": name, "init": scheme}` spec, if it has one.
fn spec_init(spec: &Value) -> Result<Option<Init>> {
    spec.get("init")
        .map(|init| {
            serde_json::from_value(init.clone())
                .map_err(|e| ServiceError::invalid(format!("model spec: init: {e}")))
        })
        .transpose()
}
