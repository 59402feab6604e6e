//! BM25 text → sparse vector, as Qdrant's server-side `qdrant/bm25` model computes it: the
//! text is tokenized (lowercased, optionally ASCII-folded), stopwords dropped, tokens stemmed;
//! each token's id is the absolute value of its 32-bit MurmurHash3 (seed 0) read as a signed
//! integer. A document's weights are BM25's term-frequency part,
//! `tf · (k + 1) / (tf + k · (1 − b + b · len / avg_len))`; a query's are 1 per distinct token.
//! The IDF half of BM25 is the collection's job (a sparse vector with the `idf` modifier).
//!
//! Stopword lists are NLTK's (the `stop-words` crate); stemmers are Snowball's
//! (`rust-stemmers`). Asking for the stopwords of a language that has no list here is refused
//! with a clear error rather than silently left unfiltered.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Deserialize;

use crate::{EngineError, Result};

/// How the text is split into tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenizerType {
    /// Runs of letters and digits (anything else separates).
    #[default]
    Word,
    /// Runs of non-whitespace.
    Whitespace,
    /// As `word` (prefixes matter only to a full-text index, not to BM25's query side).
    Prefix,
    /// Refused: needs a segmenter for scripts without spaces.
    Multilingual,
}

/// Stopwords: a language's list, or several lists and custom words.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum StopwordsInterface {
    Language(String),
    Set {
        #[serde(default)]
        languages: Option<Vec<String>>,
        #[serde(default)]
        custom: Option<Vec<String>>,
    },
}

/// A stemmer: Snowball for a language, or none.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum StemmingAlgorithm {
    Snowball { language: String },
    None,
}

/// Qdrant's `Bm25Config`: the options of a `Document` whose model is `qdrant/bm25`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Bm25Config {
    /// Term-frequency saturation (default 1.2).
    #[serde(default = "default_k")]
    pub k: f64,
    /// Length normalisation, 0 to 1 (default 0.75).
    #[serde(default = "default_b")]
    pub b: f64,
    /// Expected average document length in tokens (default 256).
    #[serde(default = "default_avg_len")]
    pub avg_len: f64,
    #[serde(default)]
    pub tokenizer: TokenizerType,
    /// The default stopwords and stemmer (English when absent; `"none"`: neither).
    pub language: Option<String>,
    /// Default `true`.
    pub lowercase: Option<bool>,
    /// Fold accented letters to ASCII (default `false`).
    pub ascii_folding: Option<bool>,
    pub stopwords: Option<StopwordsInterface>,
    pub stemmer: Option<StemmingAlgorithm>,
    pub min_token_len: Option<usize>,
    pub max_token_len: Option<usize>,
}

fn default_k() -> f64 {
    1.2
}
fn default_b() -> f64 {
    0.75
}
fn default_avg_len() -> f64 {
    256.0
}

impl Default for Bm25Config {
    fn default() -> Self {
        Bm25Config {
            k: default_k(),
            b: default_b(),
            avg_len: default_avg_len(),
            tokenizer: TokenizerType::Word,
            language: None,
            lowercase: None,
            ascii_folding: None,
            stopwords: None,
            stemmer: None,
            min_token_len: None,
            max_token_len: None,
        }
    }
}

/// A configured BM25 model.
pub struct Bm25 {
    config: Bm25Config,
    stopwords: HashSet<String>,
    stemmer: Option<rust_stemmers::Stemmer>,
}

impl std::fmt::Debug for Bm25 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bm25")
            .field("config", &self.config)
            .field("stopwords", &self.stopwords.len())
            .field("stemmer", &self.stemmer.is_some())
            .finish()
    }
}

/// NLTK's list code for one of Qdrant's stopword languages (`None`: no list here).
fn stopword_code(language: &str) -> Option<&'static str> {
    Some(match language {
        "arabic" => "ar",
        "azerbaijani" => "az",
        "danish" => "da",
        "dutch" => "nl",
        "english" => "en",
        "finnish" => "fi",
        "french" => "fr",
        "german" => "de",
        "greek" => "el",
        "hungarian" => "hu",
        "indonesian" => "id",
        "italian" => "it",
        "kazakh" => "kk",
        "nepali" => "ne",
        "norwegian" => "no",
        "portuguese" => "pt",
        "romanian" => "ro",
        "russian" => "ru",
        "slovene" => "sl",
        "spanish" => "es",
        "swedish" => "sv",
        "tajik" => "tg",
        "turkish" => "tr",
        _ => return None,
    })
}

/// Qdrant's stopword languages that have no list here.
const NO_LIST: [&str; 7] = [
    "basque", "bengali", "catalan", "chinese", "hebrew", "hinglish", "japanese",
];

fn snowball(language: &str) -> Option<rust_stemmers::Algorithm> {
    use rust_stemmers::Algorithm as A;
    Some(match language {
        "arabic" => A::Arabic,
        "danish" => A::Danish,
        "dutch" => A::Dutch,
        "english" => A::English,
        "finnish" => A::Finnish,
        "french" => A::French,
        "german" => A::German,
        "greek" => A::Greek,
        "hungarian" => A::Hungarian,
        "italian" => A::Italian,
        "norwegian" => A::Norwegian,
        "portuguese" => A::Portuguese,
        "romanian" => A::Romanian,
        "russian" => A::Russian,
        "spanish" => A::Spanish,
        "swedish" => A::Swedish,
        "tamil" => A::Tamil,
        "turkish" => A::Turkish,
        _ => return None,
    })
}

fn bad(field: &str, problem: impl Into<String>) -> EngineError {
    EngineError::bad(format!("{field}: {}", problem.into()))
}

impl Bm25 {
    /// A model for `config` (`at`: where the options are, for errors).
    pub fn new(config: Bm25Config, at: &str) -> Result<Bm25> {
        let field = |f: &str| format!("{at}.{f}");
        if !(config.k.is_finite() && config.k >= 0.0) {
            return Err(bad(&field("k"), "must be a finite number of at least 0"));
        }
        if !(0.0..=1.0).contains(&config.b) {
            return Err(bad(&field("b"), "must be from 0 to 1"));
        }
        if !(config.avg_len.is_finite() && config.avg_len > 0.0) {
            return Err(bad(&field("avg_len"), "must be a positive number"));
        }
        if config.tokenizer == TokenizerType::Multilingual {
            return Err(bad(
                &field("tokenizer"),
                "the multilingual tokenizer is not supported; use word, whitespace or prefix",
            ));
        }
        let language = config.language.as_deref().unwrap_or("english");
        let lowercase = config.lowercase.unwrap_or(true);
        let list = |lang: &str| -> Result<Vec<String>> {
            match stopword_code(lang) {
                Some(code) => Ok(stop_words::get(code)),
                None if NO_LIST.contains(&lang) => Err(bad(
                    &field("stopwords"),
                    format!(
                        "no stopword list for {lang} here; give the words in `stopwords.custom`"
                    ),
                )),
                None => Err(bad(
                    &field("language"),
                    format!("unknown language `{lang}`"),
                )),
            }
        };
        let words: Vec<String> = match &config.stopwords {
            None if language == "none" => Vec::new(),
            None => match stopword_code(language) {
                Some(code) => stop_words::get(code),
                // as Qdrant: a language without a list simply has no default stopwords
                None => Vec::new(),
            },
            Some(StopwordsInterface::Language(l)) => list(l)?,
            Some(StopwordsInterface::Set { languages, custom }) => {
                let mut all = Vec::new();
                for l in languages.iter().flatten() {
                    all.extend(list(l)?);
                }
                all.extend(custom.iter().flatten().cloned());
                all
            }
        };
        let stopwords = words
            .into_iter()
            .map(|w| if lowercase { w.to_lowercase() } else { w })
            .collect();
        let stemmer = match &config.stemmer {
            None => snowball(language).map(rust_stemmers::Stemmer::create),
            Some(StemmingAlgorithm::None) => None,
            Some(StemmingAlgorithm::Snowball { language }) => Some(rust_stemmers::Stemmer::create(
                snowball(language).ok_or_else(|| {
                    bad(
                        &field("stemmer.language"),
                        format!("no Snowball stemmer for `{language}`"),
                    )
                })?,
            )),
        };
        Ok(Bm25 {
            config,
            stopwords,
            stemmer,
        })
    }

    /// The processed tokens of `text`, in order (repeats kept).
    pub fn tokens(&self, text: &str) -> Vec<String> {
        let c = &self.config;
        let folded;
        let text = if c.ascii_folding.unwrap_or(false) {
            folded = deunicode::deunicode(text);
            folded.as_str()
        } else {
            text
        };
        let raw: Vec<&str> = match c.tokenizer {
            TokenizerType::Whitespace => text.split_whitespace().collect(),
            _ => text
                .split(|ch: char| !ch.is_alphanumeric())
                .filter(|t| !t.is_empty())
                .collect(),
        };
        let mut out = Vec::with_capacity(raw.len());
        for t in raw {
            let t = if c.lowercase.unwrap_or(true) {
                t.to_lowercase()
            } else {
                t.to_string()
            };
            if self.stopwords.contains(&t) {
                continue;
            }
            let t = match &self.stemmer {
                Some(s) => s.stem(&t).into_owned(),
                None => t,
            };
            let len = t.chars().count();
            if c.min_token_len.is_some_and(|m| len < m) || c.max_token_len.is_some_and(|m| len > m)
            {
                continue;
            }
            out.push(t);
        }
        out
    }

    /// A token's id: |MurmurHash3_32(token, seed 0) as i32|.
    pub fn token_id(token: &str) -> u32 {
        let h = murmur3::murmur3_32(&mut token.as_bytes(), 0).unwrap_or(0);
        (h as i32).unsigned_abs()
    }

    /// A document's sparse vector: (ids ascending, BM25 term-frequency weights).
    pub fn document(&self, text: &str) -> (Vec<u32>, Vec<f32>) {
        let tokens = self.tokens(text);
        let len = tokens.len() as f64;
        let mut counts: HashMap<&str, u32> = HashMap::new();
        for t in &tokens {
            *counts.entry(t.as_str()).or_insert(0) += 1;
        }
        let (k, b, avg) = (self.config.k, self.config.b, self.config.avg_len);
        let mut weights: BTreeMap<u32, f32> = BTreeMap::new();
        for (token, n) in counts {
            let n = f64::from(n);
            let tf = n * (k + 1.0) / (n + k * (1.0 - b + b * len / avg));
            weights.insert(Self::token_id(token), tf as f32);
        }
        weights.into_iter().unzip()
    }

    /// A query's sparse vector: each distinct token once, weight 1.
    pub fn query(&self, text: &str) -> (Vec<u32>, Vec<f32>) {
        let ids: std::collections::BTreeSet<u32> = self
            .tokens(text)
            .iter()
            .map(|t| Self::token_id(t))
            .collect();
        let n = ids.len();
        (ids.into_iter().collect(), vec![1.0; n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(json: serde_json::Value) -> Bm25 {
        Bm25::new(serde_json::from_value(json).unwrap(), "options").unwrap()
    }

    #[test]
    fn token_ids_are_murmur3_as_qdrant_computes_them() {
        // MurmurHash3_x86_32 reference values, seed 0
        assert_eq!(murmur3::murmur3_32(&mut "".as_bytes(), 0).unwrap(), 0);
        assert_eq!(
            murmur3::murmur3_32(&mut "hello".as_bytes(), 0).unwrap(),
            0x248b_fa47
        );
        // the sign bit folds: |h as i32|
        let h = murmur3::murmur3_32(&mut "hello".as_bytes(), 0).unwrap();
        assert_eq!(Bm25::token_id("hello"), (h as i32).unsigned_abs());
        for t in ["a", "travel", "zürich", "日本"] {
            let h = murmur3::murmur3_32(&mut t.as_bytes(), 0).unwrap();
            assert!(Bm25::token_id(t) <= i32::MAX as u32 + 1);
            assert_eq!(Bm25::token_id(t), (h as i32).unsigned_abs());
        }
    }

    #[test]
    fn english_default_lowercases_drops_stopwords_and_stems() {
        let m = model(serde_json::json!({}));
        assert_eq!(
            m.tokens("The Quick brown foxes were JUMPING over the lazy dogs!"),
            ["quick", "brown", "fox", "jump", "lazi", "dog"]
        );
        let m = model(serde_json::json!({"language": "none"}));
        assert_eq!(m.tokens("The foxes"), ["the", "foxes"]);
        let m = model(
            serde_json::json!({"stemmer": {"type": "none"}, "stopwords": {"custom": ["foxes"]}}),
        );
        assert_eq!(m.tokens("The foxes ran"), ["the", "ran"]);
        let m = model(serde_json::json!({"ascii_folding": true, "language": "none"}));
        assert_eq!(m.tokens("ação Zürich"), ["acao", "zurich"]);
        let m = model(serde_json::json!({"tokenizer": "whitespace", "language": "none"}));
        assert_eq!(m.tokens("state-of-the-art  ok"), ["state-of-the-art", "ok"]);
        let m =
            model(serde_json::json!({"language": "none", "min_token_len": 2, "max_token_len": 4}));
        assert_eq!(m.tokens("a bb cccc ddddd"), ["bb", "cccc"]);
    }

    #[test]
    fn document_weights_follow_the_bm25_tf_formula() {
        let m = model(serde_json::json!({"language": "none", "k": 1.2, "b": 0.75, "avg_len": 4.0}));
        // 3 tokens: "time" twice, "travel" once; len 3, avg 4
        let (ids, weights) = m.document("time travel time");
        let tf = |n: f64| n * 2.2 / (n + 1.2 * (1.0 - 0.75 + 0.75 * 3.0 / 4.0));
        let mut want = vec![
            (Bm25::token_id("time"), tf(2.0) as f32),
            (Bm25::token_id("travel"), tf(1.0) as f32),
        ];
        want.sort_by_key(|&(i, _)| i);
        assert_eq!(ids, want.iter().map(|w| w.0).collect::<Vec<_>>());
        for (got, (_, w)) in weights.iter().zip(&want) {
            assert!((got - w).abs() < 1e-6, "{got} vs {w}");
        }
        let (qids, qw) = m.query("time TIME travel");
        assert_eq!(qids, ids);
        assert_eq!(qw, vec![1.0, 1.0]);
        assert_eq!(m.document(""), (vec![], vec![]));
    }

    #[test]
    fn bad_options_are_refused_naming_the_field() {
        let err = |json: serde_json::Value| {
            Bm25::new(serde_json::from_value(json).unwrap(), "query.options")
                .unwrap_err()
                .to_string()
        };
        assert!(err(serde_json::json!({"b": 2.0})).contains("query.options.b"));
        assert!(err(serde_json::json!({"avg_len": 0.0})).contains("avg_len"));
        assert!(err(serde_json::json!({"tokenizer": "multilingual"})).contains("not supported"));
        assert!(
            err(serde_json::json!({"stopwords": "basque"})).contains("no stopword list for basque")
        );
        assert!(
            err(serde_json::json!({"stemmer": {"type": "snowball", "language": "klingon"}}))
                .contains("stemmer.language")
        );
        assert!(serde_json::from_value::<Bm25Config>(serde_json::json!({"kk": 1})).is_err());
    }
}
