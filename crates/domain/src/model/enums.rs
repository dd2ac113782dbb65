//! A macro for the closed sets of names the contract uses as string values (`pending`, `chunked`, …).

/// A stored or received name that this version does not know (a corrupt row or a newer writer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value {0:?}")]
pub struct UnknownValue(pub String);

/// Declares a fieldless enum with its wire name per variant, `as_str`, `FromStr` and `Display`.
#[macro_export]
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The name used in the API and the database.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::model::enums::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err($crate::model::enums::UnknownValue(other.to_owned())),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use crate::model::build::BuildStatus;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for status in BuildStatus::ALL {
            assert_eq!(status.as_str().parse::<BuildStatus>(), Ok(*status));
        }
        assert!("Ready".parse::<BuildStatus>().is_err());
    }
}
