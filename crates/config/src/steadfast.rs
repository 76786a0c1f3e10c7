//! `Steadfast`: every model group of a config as its own [`Router`], the calls that cross
//! from one group to its fallback groups, and the changes a manager makes at run time.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use serde::Serialize;
use steadfast_errors::ErrorKind;
use steadfast_providers_core::{ChatProvider, ChatRequest, ChatResponse, Pricing, VideoProvider};
use steadfast_providers_core::{
    ImageProvider, ImageRequest, ImageResponse, ProgressFn, VideoRequest, VideoResponse,
};
use steadfast_router::media::{
    MediaConfig, MediaError, MediaOptions, MediaRouted, MediaRouter, MediaStats,
};
use steadfast_router::{
    HealthCheck, ProviderConfig, RouteOptions, Routed, Router, RouterConfig, RouterError,
    RouterStream, StatsSnapshot, StrategyKind,
};

use crate::build::{Built, Lookup, build, chat_info};
use crate::error::ConfigError;
use crate::file::{ConfigFile, GroupConfig, Kind};
use crate::parse::Format;

/// The name of the implicit group of a file without `[groups]`.
pub const DEFAULT_GROUP: &str = "default";

/// What the config said about one deployment, for listings (`steadfast models`, `status`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DeploymentInfo {
    /// Its name (the provider id).
    pub name: String,
    /// Its kind in the config; `None` for a provider added in code at run time
    /// ([`Steadfast::add_deployment`]).
    pub kind: Option<Kind>,
    /// The model it asks for (empty for a provider added in code that asks for the model
    /// each request names).
    pub model: String,
    /// The groups it serves.
    pub groups: Vec<String>,
    /// Its prices: the config's `pricing`, else the provider's for the model, else the
    /// model catalog's (`steadfast-catalog`).
    pub pricing: Option<Pricing>,
    /// Its context window: the config's, else the provider's for the model, else the
    /// catalog's.
    pub context_window: Option<u32>,
}

/// One deployment a group runs: the provider and how it takes part.
#[derive(Clone)]
struct Member {
    provider: Arc<dyn ChatProvider>,
    config: ProviderConfig,
}

/// One model group: its settings, its members, and the router built over them (changed in
/// place at run time, never rebuilt).
struct Group {
    config: GroupConfig,
    members: Vec<Member>,
    router: Router,
}

impl Group {
    /// The group `name` over `members`, its router named after it (the `model_group` of
    /// its metrics and events) and sharing `shared` with other instances.
    fn new(
        name: &str,
        config: GroupConfig,
        router_config: RouterConfig,
        members: Vec<Member>,
        shared: Option<&crate::shared::Shared>,
    ) -> Group {
        let mut builder = Router::builder().name(name).config(router_config);
        for m in &members {
            builder = builder.provider(Arc::clone(&m.provider), m.config.clone());
        }
        if let Some((state, shared)) = shared {
            builder = builder.shared_state(Arc::clone(state), *shared);
        }
        Group {
            config,
            members,
            router: builder.build(),
        }
    }
}

/// Why a call through [`Steadfast`] got no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// No group has this name.
    #[error("no model group named `{0}`")]
    UnknownGroup(String),
    /// Every group tried failed; this is the last one's error.
    #[error("group `{group}`: {source}")]
    Failed {
        /// The last group tried.
        group: String,
        /// Its router's error (every attempt listed).
        #[source]
        source: RouterError,
    },
}

impl CallError {
    /// The kind of the last failure, when there is one.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            CallError::UnknownGroup(_) => None,
            CallError::Failed { source, .. } => source.kind(),
        }
    }
}

/// A whole config, built: each model group is a [`Router`] over its deployments, and calls
/// name a group (the alias), falling back to the group's fallback groups when every
/// deployment in it failed.
///
/// ```
/// use steadfast_config::Steadfast;
/// use steadfast_providers_core::{ChatRequest, Message};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let sf = Steadfast::from_config(r#"
///     [deployments.primary]
///     kind = "mock"
///     script = [{ error = "server" }]
///     retry = { max_attempts = 1 }
///     priority = 1
///
///     [deployments.backup]
///     kind = "mock"
///     script = [{ text = "hello from the backup" }]
///     priority = 2
///
///     [groups.fast]
///     deployments = ["primary", "backup"]
/// "#).unwrap();
/// let request = ChatRequest::new("fast", vec![Message::user("hi")]);
/// let answer = sf.chat(None, &request, sf.route_options()).await.unwrap();
/// assert_eq!((answer.provider.as_str(), answer.value.text.as_str()), ("backup", "hello from the backup"));
/// # }
/// ```
pub struct Steadfast {
    groups: BTreeMap<String, RwLock<Group>>,
    default_group: String,
    /// The roster as it stands: the config's deployments, then those added at run time.
    deployments: RwLock<Vec<DeploymentInfo>>,
    video: MediaRouter<dyn VideoProvider>,
    images: MediaRouter<dyn ImageProvider>,
    fallback: AtomicBool,
}

impl fmt::Debug for Steadfast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Steadfast")
            .field("groups", &self.groups.keys().collect::<Vec<_>>())
            .field("default_group", &self.default_group)
            .field("deployments", &*read(&self.deployments))
            .finish_non_exhaustive()
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

impl Steadfast {
    /// Builds a config text (TOML, or JSON when it starts with `{`), reading key references
    /// from the process environment.
    pub fn from_config(text: &str) -> Result<Steadfast, ConfigError> {
        let file = ConfigFile::parse(text, Format::sniff(text))?;
        Steadfast::build(&file, &|name| std::env::var(name).ok())
    }

    /// Reads and builds the file at `path` (JSON for `.json`, else TOML).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Steadfast, ConfigError> {
        let path = path.as_ref();
        let file = ConfigFile::read(path)?;
        Steadfast::build(&file, &|name| std::env::var(name).ok())
            .map_err(|e| e.in_file(path.to_owned()))
    }

    /// Builds `file`, reading key references and the kinds' conventional variables through
    /// `lookup` (the process environment, or a map in tests).
    pub fn build(
        file: &ConfigFile,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Steadfast, ConfigError> {
        build_all(file, lookup)
    }

    /// The names of the groups, sorted.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.groups.keys().map(String::as_str)
    }

    /// The group calls use when they name none.
    pub fn default_group(&self) -> &str {
        &self.default_group
    }

    /// The router of `group` (the default group for `None`). Cheap: routers are shared.
    pub fn router(&self, group: Option<&str>) -> Option<Router> {
        let name = group.unwrap_or(&self.default_group);
        self.groups.get(name).map(|g| read(g).router.clone())
    }

    /// Every deployment, chat and media, by name: the config's, with each chat deployment's
    /// groups as they stand after [`add_deployment`](Self::add_deployment) and
    /// [`remove_deployment`](Self::remove_deployment) (one removed from its last group is no
    /// longer listed; one added in code is, with no [`kind`](DeploymentInfo::kind)).
    pub fn deployments(&self) -> Vec<DeploymentInfo> {
        read(&self.deployments).clone()
    }

    /// The video job deployments (`runway`, `xai-video`), in the order they are tried
    /// (priority, then name).
    pub fn video_providers(&self) -> impl Iterator<Item = &Arc<dyn VideoProvider>> {
        self.video.providers()
    }

    /// The image deployments (`openai-image`, `xai-image`, `pollinations-image`), in the
    /// order they are tried (priority, then name).
    pub fn image_providers(&self) -> impl Iterator<Item = &Arc<dyn ImageProvider>> {
        self.images.providers()
    }

    /// The router of the video deployments: each behind its breaker and retry policy, with
    /// stats and cost (see [`MediaRouter`]).
    pub fn video_router(&self) -> &MediaRouter<dyn VideoProvider> {
        &self.video
    }

    /// The router of the image deployments.
    pub fn image_router(&self) -> &MediaRouter<dyn ImageProvider> {
        &self.images
    }

    /// Generates images on the image deployments (`prefer` first), each under its retry
    /// policy and breaker, moving on after a failure whose kind may fall back when
    /// `fallback` is on. The answer names the deployment, every turn and the cost.
    pub async fn generate_image(
        &self,
        request: &ImageRequest,
        prefer: Option<&str>,
        fallback: bool,
    ) -> Result<MediaRouted<ImageResponse>, MediaError> {
        self.images
            .generate(request, MediaOptions::new(prefer, fallback, None))
            .await
    }

    /// Generates a video on the video deployments, as
    /// [`generate_image`](Self::generate_image) does; `progress` sees every poll.
    pub async fn generate_video(
        &self,
        request: &VideoRequest,
        prefer: Option<&str>,
        fallback: bool,
        progress: Option<ProgressFn>,
    ) -> Result<MediaRouted<VideoResponse>, MediaError> {
        self.video
            .generate(request, MediaOptions::new(prefer, fallback, progress))
            .await
    }

    /// The media deployments' counters: video first, then images.
    pub fn media_stats(&self) -> Vec<MediaStats> {
        let mut stats = self.video.stats();
        stats.extend(self.images.stats());
        stats
    }

    /// The per-call options the config asks for (fallback on or off, from `router.fallback`
    /// or [`set_fallback_default`](Self::set_fallback_default)); change fields on the result
    /// for one call. Deadlines and hedging are each group's own, in its router.
    pub fn route_options(&self) -> RouteOptions {
        RouteOptions {
            fallback: self.fallback.load(Ordering::Relaxed),
            ..RouteOptions::default()
        }
    }

    /// Sets the router-wide fallback default that [`route_options`](Self::route_options)
    /// hands out (seed 002's `setup_fallback_chain` on or off).
    pub fn set_fallback_default(&self, fallback: bool) {
        self.fallback.store(fallback, Ordering::Relaxed);
    }

    /// Answers `request` whole from `group` (the default for `None`), then, if every
    /// deployment there failed and `options.fallback` allows, from the group's fallback
    /// groups: `context_window_fallbacks` after `context_length`, `content_policy_fallbacks`
    /// after `content_filter`, `fallbacks` after any other kind that may fall back. Each
    /// group is tried at most once.
    pub async fn chat(
        &self,
        group: Option<&str>,
        request: &ChatRequest,
        options: RouteOptions,
    ) -> Result<Routed<ChatResponse>, CallError> {
        self.across(group, &options, |router, o| async move {
            router.chat(request, o).await
        })
        .await
    }

    /// As [`chat`](Self::chat), streamed: returns once a deployment's stream reached its
    /// first token. Group fallbacks apply only before that.
    pub async fn chat_stream(
        &self,
        group: Option<&str>,
        request: &ChatRequest,
        options: RouteOptions,
    ) -> Result<Routed<RouterStream>, CallError> {
        self.across(group, &options, |router, o| async move {
            router.chat_stream(request, o).await
        })
        .await
    }

    async fn across<T, F, Fut>(
        &self,
        group: Option<&str>,
        options: &RouteOptions,
        call: F,
    ) -> Result<Routed<T>, CallError>
    where
        F: Fn(Router, RouteOptions) -> Fut,
        Fut: Future<Output = Result<Routed<T>, RouterError>>,
    {
        // The first group is tried without a queue, a list of names or a copy of its
        // settings: those are made only when it failed and its fallbacks are asked.
        let first = group.unwrap_or(&self.default_group);
        let Some(g) = self.groups.get(first) else {
            return Err(CallError::UnknownGroup(first.to_owned()));
        };
        let router = read(g).router.clone();
        let e = match call(router, options.clone()).await {
            Ok(answer) => return Ok(answer),
            Err(e) => e,
        };
        let mut tried = vec![first.to_owned()];
        let mut queue = Vec::new();
        let mut last = (first.to_owned(), g, e);
        loop {
            if options.fallback {
                let (_, g, e) = &last;
                let g = read(g);
                let next = match e.kind() {
                    Some(ErrorKind::ContextLength) => &g.config.context_window_fallbacks,
                    Some(ErrorKind::ContentFilter) => &g.config.content_policy_fallbacks,
                    Some(k) if k.may_fall_back() => &g.config.fallbacks,
                    None => &g.config.fallbacks,
                    Some(_) => &Vec::new(),
                };
                queue.clear();
                queue.extend(next.iter().rev().filter(|n| !tried.contains(n)).cloned());
            }
            let Some(name) = queue.pop() else {
                let (group, _, source) = last;
                return Err(CallError::Failed { group, source });
            };
            let Some(g) = self.groups.get(&name) else {
                return Err(CallError::UnknownGroup(name));
            };
            let router = read(g).router.clone();
            tried.push(name.clone());
            match call(router, options.clone()).await {
                Ok(answer) => return Ok(answer),
                Err(e) => last = (name, g, e),
            }
        }
    }

    /// Every chat deployment's provider, by name.
    pub(crate) fn chat_members(&self) -> BTreeMap<String, Arc<dyn ChatProvider>> {
        let mut out = BTreeMap::new();
        for g in self.groups.values() {
            for m in &read(g).members {
                out.entry(m.provider.id().to_owned())
                    .or_insert_with(|| Arc::clone(&m.provider));
            }
        }
        out
    }

    /// Every group's statistics, by group name.
    pub fn stats(&self) -> BTreeMap<String, StatsSnapshot> {
        self.groups
            .iter()
            .map(|(n, g)| (n.clone(), read(g).router.stats()))
            .collect()
    }

    /// Probes every chat deployment once (see [`Router::probe_health`]), each once even
    /// when it serves several groups; returns each deployment's check (its id is the
    /// deployment's name), in name order.
    pub async fn probe_health(&self) -> Vec<HealthCheck> {
        let mut seen: BTreeMap<String, HealthCheck> = BTreeMap::new();
        for g in self.groups.values() {
            let router = read(g).router.clone();
            for check in router.probe_health().await {
                seen.entry(check.id.clone()).or_insert(check);
            }
        }
        seen.into_values().collect()
    }

    /// Adds a chat deployment to `group` at run time (seed 002's `add_provider`), through
    /// [`Router::add_provider`]: it is tried from the next call on, and everything else the
    /// group's router holds is kept — the other deployments' statistics, breakers, health,
    /// rate windows and budgets, the group's totals and affinity. `false` when there is no
    /// such group or the group already has a deployment with this id.
    pub fn add_deployment(
        &self,
        group: &str,
        provider: Arc<dyn ChatProvider>,
        config: ProviderConfig,
    ) -> bool {
        let Some(g) = self.groups.get(group) else {
            return false;
        };
        let mut g = write(g);
        if g.router
            .add_provider(Arc::clone(&provider), config.clone())
            .is_err()
        {
            return false;
        }
        let mut infos = write(&self.deployments);
        match infos.iter_mut().find(|i| i.name == provider.id()) {
            Some(info) => {
                if !info.groups.iter().any(|n| n == group) {
                    info.groups.push(group.to_owned());
                }
            }
            None => {
                let mut info = chat_info(provider.id(), None, &*provider, &config, None);
                info.groups.push(group.to_owned());
                infos.push(info);
            }
        }
        g.members.push(Member { provider, config });
        true
    }

    /// Removes the deployment `id` from `group` at run time, through
    /// [`Router::remove_provider`]: no call tries it again (not even one already running
    /// that has not reached it), an attempt already on it finishes, and everything else is
    /// kept, as in [`add_deployment`](Self::add_deployment). `false` when it is not there.
    pub fn remove_deployment(&self, group: &str, id: &str) -> bool {
        let Some(g) = self.groups.get(group) else {
            return false;
        };
        let mut g = write(g);
        if !g.router.remove_provider(id) {
            return false;
        }
        g.members.retain(|m| m.provider.id() != id);
        let mut infos = write(&self.deployments);
        if let Some(info) = infos.iter_mut().find(|i| i.name == id) {
            info.groups.retain(|n| n != group);
        }
        infos.retain(|i| i.name != id || !i.groups.is_empty());
        true
    }

    /// Switches `group` to another built-in strategy at run time (seed 004's
    /// `set_failover_strategy`), through [`Router::set_strategy_kind`]: the next call is
    /// routed by it, and every deployment keeps its state, as in
    /// [`add_deployment`](Self::add_deployment). `false` when there is no such group.
    pub fn set_strategy(&self, group: &str, strategy: StrategyKind) -> bool {
        let Some(g) = self.groups.get(group) else {
            return false;
        };
        read(g).router.set_strategy_kind(strategy);
        true
    }

    /// Enables or disables deployment `id` in every group at run time, keeping the routers'
    /// state; `false` when no group has it.
    pub fn set_enabled(&self, id: &str, enabled: bool) -> bool {
        let mut found = false;
        for g in self.groups.values() {
            found |= read(g).router.set_enabled(id, enabled);
        }
        found
    }
}

fn build_all(file: &ConfigFile, lookup: Lookup<'_>) -> Result<Steadfast, ConfigError> {
    let shared = file.shared.as_ref().map(|s| s.build(lookup)).transpose()?;
    let mut chat: BTreeMap<&str, Member> = BTreeMap::new();
    // (priority, name, provider, how it runs): tried in that order.
    let mut video = Vec::new();
    let mut images = Vec::new();
    let mut infos = Vec::new();
    for (name, d) in &file.deployments {
        let mut d = d.clone();
        if d.retry.is_none() {
            d.retry.clone_from(&file.router.retry);
        }
        if d.breaker.is_none() {
            d.breaker.clone_from(&file.router.breaker);
        }
        let d = &d;
        if name.trim().is_empty() {
            return Err(ConfigError::invalid(
                "deployments",
                "a deployment name is empty",
            ));
        }
        match build(name, d, lookup)? {
            Built::Chat(provider, config) => {
                infos.push(chat_info(
                    name,
                    Some(d.kind),
                    &*provider,
                    &config,
                    d.context_window,
                ));
                chat.insert(
                    name,
                    Member {
                        provider,
                        config: *config,
                    },
                );
            }
            Built::Image(p) => {
                infos.push(DeploymentInfo {
                    name: name.clone(),
                    kind: Some(d.kind),
                    model: d.model.clone().unwrap_or_default(),
                    groups: Vec::new(),
                    pricing: None,
                    context_window: None,
                });
                images.push((d.priority, name.clone(), p, media_config(d)));
            }
            Built::Video(p) => {
                infos.push(DeploymentInfo {
                    name: name.clone(),
                    kind: Some(d.kind),
                    model: d.model.clone().unwrap_or_default(),
                    groups: Vec::new(),
                    pricing: d.pricing,
                    context_window: None,
                });
                video.push((d.priority, name.clone(), p, media_config(d)));
            }
        }
    }
    let mut group_configs = file.groups.clone();
    if group_configs.is_empty() && !chat.is_empty() {
        group_configs.insert(
            DEFAULT_GROUP.to_owned(),
            GroupConfig {
                deployments: chat.keys().map(|k| (*k).to_owned()).collect(),
                ..GroupConfig::default()
            },
        );
    }
    let defaults = &file.router;
    let mut groups = BTreeMap::new();
    for (gname, gc) in &group_configs {
        let field = |f: &str| format!("groups.{gname}.{f}");
        if gc.deployments.is_empty() {
            return Err(ConfigError::invalid(
                field("deployments"),
                "a group needs at least one deployment",
            ));
        }
        let mut members = Vec::new();
        for dname in &gc.deployments {
            let Some(m) = chat.get(dname.as_str()) else {
                let message = if file.deployments.contains_key(dname) {
                    format!("deployment `{dname}` does not answer chat (a video or image kind)")
                } else {
                    format!("no deployment named `{dname}`")
                };
                return Err(ConfigError::invalid(field("deployments"), message));
            };
            if members.iter().any(|x: &Member| x.provider.id() == dname) {
                return Err(ConfigError::invalid(
                    field("deployments"),
                    format!("`{dname}` is listed twice"),
                ));
            }
            members.push(m.clone());
            if let Some(info) = infos.iter_mut().find(|i| &i.name == dname) {
                info.groups.push(gname.clone());
            }
        }
        for (list, names) in [
            ("fallbacks", &gc.fallbacks),
            ("context_window_fallbacks", &gc.context_window_fallbacks),
            ("content_policy_fallbacks", &gc.content_policy_fallbacks),
        ] {
            if let Some(bad) = names
                .iter()
                .find(|n| !group_configs.contains_key(*n) || *n == gname)
            {
                let message = if bad == gname {
                    "a group cannot fall back to itself".to_owned()
                } else {
                    format!("no group named `{bad}`")
                };
                return Err(ConfigError::invalid(field(list), message));
            }
        }
        let mut router_config = RouterConfig {
            strategy: gc.strategy.unwrap_or(defaults.strategy),
            seed: defaults.seed,
            budget: gc.budget.or(defaults.budget),
            hedge_after: gc.hedge_after.or(defaults.hedge_after),
            ..RouterConfig::default()
        };
        router_config.chain.deadline = gc.deadline.or(defaults.deadline);
        let group = Group::new(gname, gc.clone(), router_config, members, shared.as_ref());
        groups.insert(gname.clone(), RwLock::new(group));
    }
    let default_group = match &defaults.default_group {
        Some(g) if groups.contains_key(g) => g.clone(),
        Some(g) => {
            return Err(ConfigError::invalid(
                "router.default_group",
                format!("no group named `{g}`"),
            ));
        }
        None if groups.contains_key(DEFAULT_GROUP) => DEFAULT_GROUP.to_owned(),
        None => groups
            .keys()
            .next()
            .cloned()
            .unwrap_or_else(|| DEFAULT_GROUP.to_owned()),
    };
    Ok(Steadfast {
        groups,
        default_group,
        deployments: RwLock::new(infos),
        video: media_router(video),
        images: media_router(images),
        fallback: AtomicBool::new(defaults.fallback),
    })
}

/// How a media deployment runs: its retry policy and breaker (the router's defaults when
/// it has none), its unit price, whether it is enabled.
fn media_config(d: &crate::file::Deployment) -> MediaConfig {
    let mut config = MediaConfig::default();
    if let Some(retry) = &d.retry {
        config.retry = retry.clone();
    }
    if let Some(breaker) = &d.breaker {
        config.breaker = breaker.clone();
    }
    config.usd_per_unit = d.usd_per_unit;
    config.enabled = d.enabled;
    config
}

type MediaDeployment<P> = (i32, String, Arc<P>, MediaConfig);

fn media_router<P: ?Sized + steadfast_router::media::MediaJob>(
    mut deployments: Vec<MediaDeployment<P>>,
) -> MediaRouter<P> {
    deployments.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    deployments
        .into_iter()
        .fold(MediaRouter::builder(), |b, (_, _, p, c)| b.deployment(p, c))
        .build()
}
