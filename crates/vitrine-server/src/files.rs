//! Where dataset files live. By default in the data directory (which several nodes share as
//! one mounted directory); with `dataset_storage` set, in an object store given by its URL,
//! through the `object_store` crate: `s3://bucket/prefix` (S3 and S3-compatible stores, with
//! the `s3` build feature; credentials from the `AWS_*` environment) or `file:///path` (a
//! directory, reached through the same object-store code). Each version of a dataset is a file
//! of its own, written once, read by the engine where it lies, and removed once replaced.
//!
//! Uploads and imports are converted on this node, in its data directory, then stored: moved
//! into place in the data directory, or uploaded (in parts) to the object store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::object_store::buffered::BufWriter;
use datafusion::object_store::local::LocalFileSystem;
use datafusion::object_store::path::Path as ObjectPath;
use datafusion::object_store::{ObjectStore, ObjectStoreExt};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use url::Url;
use vitrine_engine::{DataFile, DataFormat, Engine};

/// Where datasets are kept, under the storage's root: `datasets/{id}/v{version}-….parquet`.
pub const DATASETS_DIR: &str = "datasets";
/// Uploads being converted, in the scratch directory.
pub const UPLOAD_PREFIX: &str = ".upload-";

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("dataset_storage: {0}")]
    Url(String),
    #[error("dataset storage: {0}")]
    Store(#[from] datafusion::object_store::Error),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FilesError + '_ {
    move |source| FilesError::Io { path: path.display().to_string(), source }
}

/// One dataset file's place and age, as listed.
#[derive(Debug, Clone)]
pub struct StoredFile {
    /// Relative to the storage's root, as a dataset's record names it.
    pub location: String,
    pub size: u64,
    pub modified: chrono::DateTime<chrono::Utc>,
}

/// The dataset files of an installation.
pub struct DatasetFiles {
    store: Arc<dyn ObjectStore>,
    /// The root's URL, ending in `/`: a file's URL is this joined with its location.
    root_url: Url,
    /// The root as the store names paths.
    root: ObjectPath,
    /// The data directory, when the files live in it: a converted file is moved into place.
    directory: Option<PathBuf>,
    /// Where this node converts uploads and imports before storing them.
    scratch: PathBuf,
}

impl std::fmt::Debug for DatasetFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatasetFiles").field("root", &self.root_url.as_str()).finish()
    }
}

impl DatasetFiles {
    /// The files in `data_dir` (no `dataset_storage`), or in the store `storage` names.
    pub fn open(data_dir: &Path, storage: Option<&str>) -> Result<Self, FilesError> {
        let Some(storage) = storage else { return Self::in_directory(data_dir) };
        let mut url = Url::parse(storage).map_err(|e| FilesError::Url(e.to_string()))?;
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        let (store, root): (Arc<dyn ObjectStore>, ObjectPath) = if url.scheme() == "file" {
            let directory = url
                .to_file_path()
                .map_err(|()| FilesError::Url(format!("{url} is not a local path")))?;
            std::fs::create_dir_all(&directory).map_err(io(&directory))?;
            let root = ObjectPath::from_absolute_path(&directory)
                .map_err(|e| FilesError::Url(e.to_string()))?;
            (Arc::new(LocalFileSystem::new().with_automatic_cleanup(true)), root)
        } else {
            let options = std::env::vars()
                .filter(|(key, _)| key.starts_with("AWS_"))
                .map(|(key, value)| (key.to_ascii_lowercase(), value));
            let (store, root) = datafusion::object_store::parse_url_opts(&url, options)
                .map_err(|e| FilesError::Url(e.to_string()))?;
            (Arc::from(store), root)
        };
        let scratch = data_dir.join("uploads");
        std::fs::create_dir_all(&scratch).map_err(io(&scratch))?;
        Ok(Self { store, root_url: url, root, directory: None, scratch })
    }

    fn in_directory(data_dir: &Path) -> Result<Self, FilesError> {
        std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
        let absolute = std::fs::canonicalize(data_dir).map_err(io(data_dir))?;
        let root_url = Url::from_directory_path(&absolute).map_err(|()| {
            FilesError::Url(format!("{} is not an absolute path", absolute.display()))
        })?;
        let root = ObjectPath::from_absolute_path(&absolute)
            .map_err(|e| FilesError::Url(e.to_string()))?;
        let scratch = absolute.join(DATASETS_DIR);
        std::fs::create_dir_all(&scratch).map_err(io(&scratch))?;
        Ok(Self {
            store: Arc::new(LocalFileSystem::new().with_automatic_cleanup(true)),
            root_url,
            root,
            directory: Some(absolute),
            scratch,
        })
    }

    /// Lets `engine` read the files where they lie.
    pub fn register_with(&self, engine: &Engine) {
        engine.register_object_store(&self.root_url, Arc::clone(&self.store));
    }

    fn object(&self, location: &str) -> ObjectPath {
        location
            .split('/')
            .filter(|part| !part.is_empty())
            .fold(self.root.clone(), |path, part| path.join(part))
    }

    /// The location (relative to the root) of an object the store listed.
    fn location_of(&self, object: &ObjectPath) -> Option<String> {
        let parts: Vec<String> =
            object.prefix_match(&self.root)?.map(|p| p.as_ref().to_string()).collect();
        Some(parts.join("/"))
    }

    /// Where this node converts uploads and imports.
    pub fn scratch_dir(&self) -> &Path {
        &self.scratch
    }

    /// A fresh place on this node for an upload's or an import's converted file.
    pub fn scratch_file(&self) -> PathBuf {
        self.scratch.join(format!("{UPLOAD_PREFIX}{}.parquet", uuid::Uuid::now_v7()))
    }

    /// Stores the converted file `local` as `location`: moved into place in the data
    /// directory, or uploaded to the object store and removed here.
    pub async fn store_file(&self, local: &Path, location: &str) -> Result<(), FilesError> {
        if let Some(directory) = &self.directory {
            let target = directory.join(location);
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent).await.map_err(io(parent))?;
            }
            return tokio::fs::rename(local, &target).await.map_err(io(&target));
        }
        self.upload(local, location).await?;
        tokio::fs::remove_file(local).await.map_err(io(local))
    }

    /// Uploads a copy of `local` as `location`, in parts.
    pub async fn upload(&self, local: &Path, location: &str) -> Result<(), FilesError> {
        let mut file = tokio::fs::File::open(local).await.map_err(io(local))?;
        let mut writer = BufWriter::new(Arc::clone(&self.store), self.object(location));
        if let Err(error) = tokio::io::copy(&mut file, &mut writer).await {
            let _ = writer.abort().await;
            return Err(io(local)(error));
        }
        writer.shutdown().await.map_err(io(local))
    }

    /// Downloads `location` into the local file `to`.
    pub async fn download(&self, location: &str, to: &Path) -> Result<(), FilesError> {
        if let Some(parent) = to.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io(parent))?;
        }
        let mut stream = self.store.get(&self.object(location)).await?.into_stream();
        let mut out = tokio::fs::File::create(to).await.map_err(io(to))?;
        while let Some(chunk) = stream.next().await {
            out.write_all(&chunk?).await.map_err(io(to))?;
        }
        out.sync_all().await.map_err(io(to))
    }

    /// The size of `location` in bytes; 0 when it is not there.
    pub async fn size(&self, location: &str) -> u64 {
        self.store.head(&self.object(location)).await.map(|meta| meta.size).unwrap_or(0)
    }

    /// Removes `location`; a file already gone is no error.
    pub async fn remove(&self, location: &str) {
        match self.store.delete(&self.object(location)).await {
            Ok(()) | Err(datafusion::object_store::Error::NotFound { .. }) => {}
            Err(error) => tracing::warn!(location, %error, "could not remove a dataset file"),
        }
    }

    /// Every dataset file under `under` (a location's directory, such as [`DATASETS_DIR`] or
    /// one dataset's), in one listing.
    pub async fn list(&self, under: &str) -> Result<Vec<StoredFile>, FilesError> {
        let prefix = self.object(under);
        let mut listed = self.store.list(Some(&prefix));
        let mut files = Vec::new();
        while let Some(meta) = listed.next().await {
            let meta = match meta {
                Ok(meta) => meta,
                Err(datafusion::object_store::Error::NotFound { .. }) => break,
                Err(error) => return Err(error.into()),
            };
            if let Some(location) = self.location_of(&meta.location) {
                files.push(StoredFile { location, size: meta.size, modified: meta.last_modified });
            }
        }
        Ok(files)
    }

    /// The engine's handle on `location` (an absolute path is a file registered from the
    /// command line: read in place, never removed).
    pub fn data_file(&self, location: &str, format: DataFormat) -> DataFile {
        let path = Path::new(location);
        if path.is_absolute() {
            return DataFile::registered(path.to_path_buf(), format);
        }
        if let Some(directory) = &self.directory {
            return DataFile::owned(directory.join(location), format);
        }
        let url = self.root_url.join(location).map(String::from).unwrap_or_default();
        let store = Arc::clone(&self.store);
        let object = self.object(location);
        let remove = Box::new(move || {
            // Called when the last query on a replaced version is done: removed in the
            // background, since nobody waits for it.
            let (store, object) = (Arc::clone(&store), object.clone());
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let removed = store.delete(&object).await;
                    // Another node may have removed it first: it is gone either way.
                    if let Err(error) = removed
                        && !matches!(error, datafusion::object_store::Error::NotFound { .. })
                    {
                        tracing::warn!(%object, %error, "could not remove a replaced dataset file");
                    }
                });
            }
        });
        DataFile::at(url, format, Some(remove))
    }
}
